"""Celery app used by the integration tests and the fixture capture.

Configured from the environment so each test can use its own broker DB / vhost and queues:
BROKER_URL, BROKER_TRANSPORT_OPTIONS (JSON), DEFAULT_QUEUE, TASK_ACKS_LATE=1 (tasks stay reserved
until they finish), QUEUE_MAX_PRIORITY, TASK_SERIALIZER (a worker replies to remote control in it).
"""
import json
import os
import time

from celery import Celery
from celery.exceptions import Reject

app = Celery("exporter_tests", broker=os.environ.get("BROKER_URL", "redis://localhost:6379/0"))
app.conf.update(
    task_send_sent_event=True,
    worker_send_task_events=os.environ.get("WORKER_TASK_EVENTS", "1") == "1",
    broker_transport_options=json.loads(os.environ.get("BROKER_TRANSPORT_OPTIONS", "{}")),
    task_default_queue=os.environ.get("DEFAULT_QUEUE", "celery"),
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
    result_backend=None,
    task_ignore_result=True,
    task_acks_late=os.environ.get("TASK_ACKS_LATE", "0") == "1",
    task_serializer=os.environ.get("TASK_SERIALIZER", "json"),
)
if os.environ.get("QUEUE_MAX_PRIORITY"):
    # RabbitMQ priority queues: queues this app declares get x-max-priority (Celery's task_queue_max_priority).
    app.conf.task_queue_max_priority = int(os.environ["QUEUE_MAX_PRIORITY"])


@app.task(name="tests.add")
def add(x, y):
    return x + y


@app.task(name="tests.fail_value")
def fail_value():
    raise ValueError("kaboom")


@app.task(name="tests.fail_key")
def fail_key():
    raise KeyError("missing")


@app.task(bind=True, name="tests.retry_once", max_retries=3)
def retry_once(self):
    if self.request.retries == 0:
        raise self.retry(countdown=0.2)
    return "ok"


@app.task(bind=True, name="tests.retry_now", max_retries=3)
def retry_now(self):
    """Retries once at once: the retry's task-received/task-started race the first attempt's task-retried."""
    if self.request.retries == 0:
        raise self.retry(countdown=0)
    return "ok"


@app.task(bind=True, name="tests.reject", acks_late=True)
def reject(self):
    raise Reject("not today", requeue=False)


@app.task(name="tests.sleep")
def sleep(seconds):
    time.sleep(seconds)
    return seconds
