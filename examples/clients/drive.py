#!/usr/bin/env python3
"""Plays the harness's side of the client protocol against one client program.

    python3 drive.py --client 'python3 etcd_register.py' --address http://172.17.0.2:2379 \\
        'write 3 4' 'read 3' 'cas 3 [9,5]'
    python3 drive.py --client 'python3 etcd_queue.py' --workload queue --address ... \\
        'enqueue 1' dequeue drain
    python3 drive.py --client ... --address ... --ops 50        # random ops
    python3 drive.py --client ... --address ... --role admin setup teardown

A request is `f [key] [value]` (no key for the queue; values are JSON), or
`setup` / `teardown`. Prints each reply line as received on stdout; the
client's stderr passes through. Exit status: 0 when every reply kept the
protocol, 1 on a violation (a reply that is not a JSON object, a missing or
wrong id, an unknown type, no reply within --reply-timeout, a line nobody
asked for, the program not exiting once stdin closes), 2 on bad arguments.
"""

import argparse
import json
import queue
import random
import shlex
import subprocess
import sys
import threading
import time

KEYED = {"register": True, "queue": False}
REPLY_TYPES = {"ok", "fail", "info", "error"}


def violation(text):
    print("drive: protocol violation: " + text, file=sys.stderr)
    sys.exit(1)


def parse_request(text, workload):
    words = text.split(None, 2 if KEYED[workload] else 1)
    if words[0] in ("setup", "teardown"):
        return {"type": words[0]}
    request = {"type": "invoke", "f": words[0]}
    args = words[1:]
    if KEYED[workload]:
        if not args:
            raise ValueError("%r: a register op needs a key" % text)
        request["key"] = json.loads(args.pop(0))
    request["value"] = json.loads(args[0]) if args else None
    return request


def random_requests(workload, count, rng):
    if workload == "register":
        for _ in range(count):
            f = rng.choice(["read", "write", "cas"])
            value = {"read": None, "write": rng.randrange(5),
                     "cas": [rng.randrange(5), rng.randrange(5)]}[f]
            yield {"type": "invoke", "f": f, "key": rng.randrange(3), "value": value}
    else:
        for n in range(1, count + 1):
            if rng.random() < 0.6:
                yield {"type": "invoke", "f": "enqueue", "value": n}
            else:
                yield {"type": "invoke", "f": "dequeue", "value": None}
        yield {"type": "invoke", "f": "drain", "value": None}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    p.add_argument("--client", required=True, help="the program, as a shell-quoted command")
    p.add_argument("--address", required=True, help="the node's client address")
    p.add_argument("--workload", choices=sorted(KEYED), default="register")
    p.add_argument("--role", choices=["worker", "admin"], default="worker")
    p.add_argument("--prefix", default="chaos/drive-%d/" % int(time.time()))
    p.add_argument("--read", default="", help='"linearizable", "serializable" or ""')
    p.add_argument("--ops", type=int, default=10, help="random ops when no request is given")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--reply-timeout", type=float, default=30.0)
    p.add_argument("-v", "--verbose", action="store_true", help="echo requests on stderr")
    p.add_argument("requests", nargs="*")
    args = p.parse_args()
    try:
        requests = [parse_request(r, args.workload) for r in args.requests]
    except (ValueError, IndexError) as e:
        p.error("bad request: %s" % e)
    if not requests:
        requests = list(random_requests(args.workload, args.ops, random.Random(args.seed)))

    program = subprocess.Popen(shlex.split(args.client), stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True, bufsize=1)
    lines = queue.Queue()

    def pump():
        # A thread, so a silent program shows as a timeout, not a hang.
        for line in program.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()

    def exchange(message, timeout):
        if args.verbose:
            print("> " + json.dumps(message), file=sys.stderr)
        try:
            program.stdin.write(json.dumps(message) + "\n")
            program.stdin.flush()
        except BrokenPipeError:
            violation("the program closed its stdin (exit status %s)" % program.poll())
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            program.kill()
            violation("no reply within %.0f s to %s" % (timeout, json.dumps(message)))
        if line is None:
            violation("the program exited (status %s) before answering %s"
                      % (program.wait(), json.dumps(message)))
        print(line, end="", flush=True)
        try:
            reply = json.loads(line)
        except ValueError:
            violation("not JSON: %r" % line)
        if not isinstance(reply, dict):
            violation("not a JSON object: %r" % line)
        return reply

    node = {"name": "n1", "address": args.address}
    init = {"type": "init", "protocol": 1, "role": args.role,
            "process": 0 if args.role == "worker" else None,
            "node": "n1", "address": args.address, "nodes": [node],
            "workload": args.workload, "prefix": args.prefix, "seed": args.seed,
            "read": args.read}
    if exchange(init, 10.0).get("type") != "init_ok":
        violation("the answer to init is not init_ok")

    counts = {}
    for id, request in enumerate(requests):
        request = dict(request, id=id)
        reply = exchange(request, args.reply_timeout)
        if "id" not in reply:
            violation("no id in the reply to request %d" % id)
        if reply["id"] != id or isinstance(reply["id"], bool):
            violation("the reply to request %d has id %r" % (id, reply["id"]))
        kind = reply.get("type")
        if kind not in REPLY_TYPES:
            violation("unknown reply type %r" % kind)
        if kind == "error" and not (isinstance(reply.get("code"), int)
                                    and not isinstance(reply.get("code"), bool)):
            violation("an error reply without an integer code")
        counts[kind] = counts.get(kind, 0) + 1

    program.stdin.close()
    try:
        program.wait(timeout=5)
    except subprocess.TimeoutExpired:
        program.kill()
        violation("the program did not exit within 5 s of stdin closing")
    extra = [line for line in iter(lines.get, None)]
    if extra:
        violation("lines nobody asked for: %r" % extra)
    print("drive: %d requests, %s; the program exited %d"
          % (len(requests), json.dumps(counts, sort_keys=True), program.returncode),
          file=sys.stderr)


if __name__ == "__main__":
    main()
