"""Captures Celery's remote-control (pidbox) traffic with real workers, for the unit tests.

usage: /usr/bin/python3 capture_pidbox.py redis <redis-url-with-db> <out.json>
       /usr/bin/python3 capture_pidbox.py amqp <amqp-url-with-vhost> <out.json>

Starts three workers (prefork -c 2, threads -c 3, solo), gives them an active, reserved and
scheduled task, then for each method:
  1. sniffs the request Celery's own client (app.control) publishes: the Redis envelope PUBLISHed
     on /{db}.celery.pidbox, or the AMQP message routed through the celery.pidbox fanout exchange;
  2. replays that request with a fresh oid/ticket through the raw broker protocol (redis-py /
     py-amqp, no kombu) and records every reply exactly as it arrives: the Redis list entry, or
     the AMQP body with its properties.
The output is committed under test/fixtures/pidbox/; re-run this to refresh it (the tests only
rely on its structure, not on pids or timings).
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from base64 import b64decode, b64encode
from urllib.parse import unquote, urlparse

HERE = os.path.dirname(os.path.abspath(__file__))
METHODS = [
    ("ping", {}),
    ("stats", {}),
    ("active", {"safe": None}),
    ("reserved", {}),
    ("scheduled", {}),
    ("registered", {"taskinfoitems": []}),
    ("active_queues", {}),
    ("conf", {"with_defaults": False}),
    ("enable_events", {}),
    ("no_such_method", {}),
]
WORKERS = [
    # name, pool, concurrency, queues
    ("prefork@capture", "prefork", 2, "cap-a,cap-shared"),
    ("threads@capture", "threads", 3, "cap-b,cap-shared"),
    ("solo@capture", "solo", 1, "cap-c"),
]


def start_workers(url):
    procs = []
    env = dict(os.environ, BROKER_URL=url, WORKER_TASK_EVENTS="0", PYTHONUNBUFFERED="1")
    for name, pool, conc, queues in WORKERS:
        p = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tasks", "worker", "-Q", queues, "-n", name,
             "-P", pool, "-c", str(conc), "--without-gossip", "--without-mingle", "-l", "INFO"],
            cwd=HERE, env=env, stderr=subprocess.PIPE, text=True,
        )
        for line in p.stderr:
            if " ready." in line:
                break
        threading.Thread(target=lambda s=p.stderr: [None for _ in s], daemon=True).start()
        procs.append(p)
    return procs


def workload():
    sys.path.insert(0, HERE)
    from tasks import add, sleep
    # prefork (-c 2): two running, one prefetched (reserved), one ETA (scheduled).
    for _ in range(3):
        sleep.apply_async((30,), queue="cap-a")
    add.apply_async((1, 2), queue="cap-a", countdown=600)
    add.apply_async((3, 4), queue="cap-c", countdown=600)
    time.sleep(3)


def request_envelope_redis(body, headers):
    return {
        "body": b64encode(json.dumps(body).encode()).decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": headers,
        "properties": {
            "delivery_mode": 2,
            "delivery_info": {"exchange": "celery.pidbox", "routing_key": ""},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
        },
    }


def capture_redis(url):
    import redis
    from tasks import app
    db = int(urlparse(url).path.strip("/") or 0)
    client = redis.Redis.from_url(url)
    out = []
    for method, arguments in METHODS:
        sniffer = client.pubsub()
        sniffer.psubscribe(f"/{db}.celery.pidbox")
        sniffer.get_message(timeout=1)  # the psubscribe confirmation
        app.control.broadcast(method, arguments=arguments, reply=True, timeout=1)
        sent = None
        for _ in range(50):
            m = sniffer.get_message(timeout=0.1)
            if m and m["type"] == "pmessage":
                sent = m["data"].decode()
                break
        sniffer.close()
        celery_request = json.loads(sent)
        body = json.loads(b64decode(celery_request["body"]))
        # Replay Celery's request through the raw protocol (docs/protocol.md §5.5).
        oid, ticket = str(uuid.uuid4()), str(uuid.uuid4())
        queue = f"{oid}.reply.celery.pidbox"
        member = f"{oid}\x06\x16\x06\x16{queue}"
        body["ticket"] = ticket
        body["reply_to"] = {"exchange": "reply.celery.pidbox", "routing_key": oid}
        client.sadd("_kombu.binding.reply.celery.pidbox", member)
        receivers = client.publish(
            f"/{db}.celery.pidbox",
            json.dumps(request_envelope_redis(body, {"clock": 1, "expires": time.time() + 1})),
        )
        replies = []
        while True:
            r = client.brpop([queue], timeout=1)
            if r is None:
                break
            replies.append(r[1].decode())
        client.srem("_kombu.binding.reply.celery.pidbox", member)
        client.delete(queue)
        out.append({"method": method, "celery_request": celery_request, "ticket": ticket,
                    "receivers": receivers, "replies": replies})
    return out


def capture_amqp(url):
    import amqp
    from tasks import app
    u = urlparse(url)
    vhost = unquote(u.path[1:]) or "/"
    conn = amqp.Connection(host=f"{u.hostname}:{u.port or 5672}", userid=u.username or "guest",
                           password=u.password or "guest", virtual_host=vhost)
    conn.connect()
    ch = conn.channel()
    ch.exchange_declare("celery.pidbox", "fanout", durable=False, auto_delete=False)
    ch.exchange_declare("reply.celery.pidbox", "direct", durable=False, auto_delete=False)
    out = []
    for method, arguments in METHODS:
        sniff_q = f"sniff-{uuid.uuid4()}"
        ch.queue_declare(sniff_q, exclusive=True, auto_delete=True)
        ch.queue_bind(sniff_q, "celery.pidbox", "")
        app.control.broadcast(method, arguments=arguments, reply=True, timeout=1)
        msg = None
        for _ in range(50):
            msg = ch.basic_get(sniff_q, no_ack=True)
            if msg is not None:
                break
            time.sleep(0.1)
        ch.queue_delete(sniff_q)
        celery_request = {"body": text(msg.body), "properties": jsonable(msg.properties)}
        body = json.loads(msg.body)
        oid, ticket = str(uuid.uuid4()), str(uuid.uuid4())
        queue = f"{oid}.reply.celery.pidbox"
        ch.queue_declare(queue, exclusive=True, auto_delete=True,
                         arguments={"x-expires": 10000, "x-message-ttl": 300000})
        ch.queue_bind(queue, "reply.celery.pidbox", oid)
        body["ticket"] = ticket
        body["reply_to"] = {"exchange": "reply.celery.pidbox", "routing_key": oid}
        ch.basic_publish(
            amqp.Message(json.dumps(body), content_type="application/json", content_encoding="utf-8",
                         application_headers={"clock": 1, "expires": time.time() + 1}, delivery_mode=2),
            exchange="celery.pidbox", routing_key="",
        )
        replies = []
        deadline = time.time() + 1
        while time.time() < deadline:
            m = ch.basic_get(queue, no_ack=True)
            if m is None:
                time.sleep(0.05)
                continue
            replies.append({"body": text(m.body), "properties": jsonable(m.properties)})
            deadline = time.time() + 1
        ch.queue_delete(queue)
        out.append({"method": method, "celery_request": celery_request, "ticket": ticket, "replies": replies})
    conn.close()
    return out


def text(body):
    return body.decode() if isinstance(body, bytes) else body


def jsonable(v):
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, bytes):
        return v.decode()
    return v


def main():
    kind, url, out_path = sys.argv[1], sys.argv[2], sys.argv[3]
    os.environ["BROKER_URL"] = url
    sys.path.insert(0, HERE)
    procs = start_workers(url)
    try:
        workload()
        captured = capture_redis(url) if kind == "redis" else capture_amqp(url)
    finally:
        for p in procs:
            p.send_signal(signal.SIGQUIT)  # cold: do not wait for the 30 s sleeps
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
    with open(out_path, "w") as f:
        json.dump({"broker": kind, "workers": [w[0] for w in WORKERS], "calls": captured}, f, indent=1)
        f.write("\n")
    print(f"captured {len(captured)} calls to {out_path}")


if __name__ == "__main__":
    main()
