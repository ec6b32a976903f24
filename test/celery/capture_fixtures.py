"""Captures the raw Redis event stream of a real Celery worker running the standard workload.

usage: /usr/bin/python3 capture_fixtures.py <redis-url-with-db> <out.jsonl>

Writes one JSON object per PUBLISHed message: {"channel": ..., "data": <the kombu envelope>}.
The unit and golden tests replay this file, so it is committed; re-run this to refresh it.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time

import redis

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    url, out_path = sys.argv[1], sys.argv[2]
    db = int(url.rsplit("/", 1)[1])
    os.environ["BROKER_URL"] = url
    client = redis.Redis.from_url(url)
    pubsub = client.pubsub()
    pubsub.psubscribe(f"/{db}.celeryev*")
    captured = []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            msg = pubsub.get_message(timeout=0.1)
            if msg and msg["type"] == "pmessage":
                captured.append({"channel": msg["channel"].decode(), "data": msg["data"].decode()})

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
    with open(out_path, "w") as f:
        for m in captured:
            f.write(json.dumps(m) + "\n")
    print(f"captured {len(captured)} messages to {out_path}")


if __name__ == "__main__":
    main()
