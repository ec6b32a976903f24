"""Captures the raw AMQP event stream of a real Celery worker running the standard workload.

usage: /usr/bin/python3 capture_amqp_fixtures.py <amqp-url-with-vhost> <out.jsonl>

Binds a server-named exclusive queue to the celeryev topic exchange with "#" (what the exporter
does) using py-amqp directly, so the bytes and properties are exactly what RabbitMQ delivered,
and writes one JSON object per message: {"routing_key", "content_type", "content_encoding",
"headers", "delivery_mode", "body"} (body: the message bytes as UTF-8 text). The unit tests
replay this file, so it is committed; re-run this (in a vhost of its own) to refresh it.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time
from urllib.parse import unquote, urlparse

import amqp

HERE = os.path.dirname(os.path.abspath(__file__))


def connect(url):
    u = urlparse(url)
    vhost = unquote(u.path[1:]) if len(u.path) > 1 else "/"
    conn = amqp.Connection(
        host=f"{u.hostname or 'localhost'}:{u.port or 5672}",
        userid=unquote(u.username or "guest"),
        password=unquote(u.password or "guest"),
        virtual_host=vhost,
    )
    conn.connect()
    return conn


def main():
    url, out_path = sys.argv[1], sys.argv[2]
    os.environ["BROKER_URL"] = url
    conn = connect(url)
    ch = conn.channel()
    # Celery's flags for the events exchange (docs/protocol.md §1.1); a no-op when a worker made it.
    ch.exchange_declare("celeryev", "topic", durable=True, auto_delete=False)
    queue, _, _ = ch.queue_declare("", exclusive=True, auto_delete=True)
    ch.queue_bind(queue, "celeryev", "#")
    captured = []
    stop = threading.Event()

    def on_message(msg):
        p = msg.properties
        body = msg.body if isinstance(msg.body, bytes) else msg.body.encode()
        captured.append({
            "routing_key": msg.delivery_info["routing_key"],
            "content_type": p.get("content_type"),
            "content_encoding": p.get("content_encoding"),
            "headers": p.get("application_headers"),
            "delivery_mode": p.get("delivery_mode"),
            "body": body.decode("utf-8"),
        })

    ch.basic_consume(queue, callback=on_message, no_ack=True)

    def reader():
        while not stop.is_set():
            try:
                conn.drain_events(timeout=0.1)
            except __import__("socket").timeout:
                pass

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tasks", "worker", "-E", "-Q", "qa,high-priority",
         "-c", "2", "-n", "w1@probe", "--without-gossip", "--without-mingle",
         "--heartbeat-interval", "1", "-l", "INFO"],
        cwd=HERE, stderr=subprocess.PIPE, text=True,
    )
    try:
        for line in worker.stderr:
            if " ready." in line:
                break
        threading.Thread(target=lambda: [None for _ in worker.stderr], daemon=True).start()
        sys.path.insert(0, HERE)
        import send
        send.standard("qa", "high-priority")
        time.sleep(6)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=20)
    time.sleep(0.5)
    stop.set()
    t.join()
    conn.close()
    with open(out_path, "w") as f:
        for m in captured:
            f.write(json.dumps(m) + "\n")
    print(f"captured {len(captured)} messages to {out_path}")


if __name__ == "__main__":
    main()
