"""Sends a named workload and prints a JSON summary of what was sent.

usage: send.py [--no-sent-event] <workload> [args...]
  standard <queueA> <queueB>   the foundation workload (see WORKLOADS below)
  add <queue> <n> [priority]   n × tests.add on a queue
  priorities <queue> <c0,…,c9> c_i × tests.add with priority i, for i = 0…9
  countdown <queue> <n> <s>    n × tests.add due in s seconds (ETA: workers hold them reserved)
  sleep <queue> <seconds>      one tests.sleep
  outcomes <queue>             one revoked before start, one expired, one rejected, one failure, one success
  revoke <task-id> [terminate] revoke a task (terminate: kill it if it runs)
  retry_now <queue> <n>        n × tests.retry_now (each retries once, countdown=0)
--no-sent-event: this producer sends no task-sent events.
  countdown <queue> <n> <s>    n × tests.add due in s seconds (held by a worker as scheduled)
"""
import json
import sys
import time
import uuid

from tasks import add, app, fail_key, fail_value, reject, retry_now, retry_once, sleep


def standard(qa, qb):
    sent = {}
    for i in range(4):
        add.apply_async((i, i), queue=qa)
    for i in range(3):
        add.apply_async((i, 1), queue=qb)
    for _ in range(2):
        fail_value.apply_async(queue=qa)
    fail_key.apply_async(queue=qb)
    retry_once.apply_async(queue=qa)
    reject.apply_async(queue=qa)
    # Revoke first, then send: the worker drops the message on receipt with a task-revoked event.
    revoked_id = str(uuid.uuid4())
    app.control.revoke(revoked_id)
    time.sleep(0.5)
    add.apply_async((9, 9), queue=qb, task_id=revoked_id)
    # ETA: the countdown must not count as queue wait.
    add.apply_async((5, 5), queue=qa, countdown=2)
    sent["revoked_id"] = revoked_id
    return sent


def outcomes(queue):
    # Revoked before it starts: the worker drops it on receipt (task-revoked, terminated/expired false).
    revoked_id = str(uuid.uuid4())
    app.control.revoke(revoked_id)
    time.sleep(0.5)
    add.apply_async((1, 1), queue=queue, task_id=revoked_id)
    # Expires before its countdown is due: the worker holds it, then revokes it as expired.
    expired_id = add.apply_async((2, 2), queue=queue, countdown=2, expires=1).id
    reject.apply_async(queue=queue)
    fail_value.apply_async(queue=queue)
    add.apply_async((3, 3), queue=queue)
    return {"revoked_id": revoked_id, "expired_id": expired_id}


def main():
    argv = sys.argv[1:]
    if argv and argv[0] == "--no-sent-event":
        app.conf.task_send_sent_event = False
        argv = argv[1:]
    workload = argv[0]
    args = argv[1:]
    if workload == "standard":
        out = standard(*args)
    elif workload == "add":
        queue, n = args[0], int(args[1])
        priority = int(args[2]) if len(args) > 2 else None
        ids = [add.apply_async((i, i), queue=queue, priority=priority).id for i in range(n)]
        out = {"ids": ids}
    elif workload == "priorities":
        queue, counts = args[0], [int(c) for c in args[1].split(",")]
        ids = []
        for priority, n in enumerate(counts):
            ids += [add.apply_async((i, i), queue=queue, priority=priority).id for i in range(n)]
        out = {"ids": ids}
    elif workload == "countdown":
        queue, n, seconds = args[0], int(args[1]), float(args[2])
        out = {"ids": [add.apply_async((i, i), queue=queue, countdown=seconds).id for i in range(n)]}
    elif workload == "retry_now":
        out = {"ids": [retry_now.apply_async(queue=args[0]).id for _ in range(int(args[1]))]}
    elif workload == "sleep":
        out = {"id": sleep.apply_async((float(args[1]),), queue=args[0]).id}
    elif workload == "outcomes":
        out = outcomes(args[0])
    elif workload == "revoke":
        app.control.revoke(args[0], terminate=len(args) > 1 and args[1] == "terminate")
        out = {"revoked": args[0]}
    else:
        raise SystemExit(f"unknown workload {workload}")
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
