#!/usr/bin/env python3
"""A client of the protocol (docs/protocol.md) for a toy system: registers
and grow-only sets kept in one JSON file, every op under an exclusive file
lock, so the system itself is linearizable. The node's address is the
file's folder. It serves the register workload (read, write, cas) and the
set workload (add, read of the whole set).

The first argument makes the client misbehave, to test the harness:
  honest          does what it is asked
  liar            answers ok to writes, compare-and-sets and adds it never does
  hang:N          after N ops, reads the next request and never answers
  crash:N         after N ops, performs the next one, then dies (exit 3)
  garbage:N       after N ops, performs the next one, then prints garbage
  exit:N          after N ops, exits 0 without reading the next request
  mute            never answers init
"""
import fcntl
import json
import os
import sys

mode, _, after = (sys.argv[1] if len(sys.argv) > 1 else "honest").partition(":")
WORKLOAD = "register"
after = int(after or 0)


def send(msg):
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


def apply(folder, prefix, op):
    """Performs one op on the file, under the lock; returns the reply."""
    path = os.path.join(folder, "registers.json")
    with open(os.path.join(folder, "lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(path) as f:
                state = json.load(f)
        except FileNotFoundError:
            state = {}
        key = prefix + str(op.get("key"))
        f, value = op["f"], op.get("value")
        is_set = WORKLOAD == "set"
        if f == "read":
            return {"type": "ok", "value": state.get(key, [] if is_set else None)}
        if mode == "liar" and f in ("write", "cas", "add"):
            return {"type": "ok", "value": value}
        if f == "add" and is_set:
            state[key] = sorted(set(state.get(key, [])) | {value})
        elif f == "write":
            state[key] = value
        elif f == "cas":
            if state.get(key) != value[0]:
                return {"type": "fail", "error": "mismatch"}
            state[key] = value[1]
        else:
            return {"type": "error", "code": 10, "text": "unknown f " + f}
        with open(path + ".tmp", "w") as out:
            json.dump(state, out)
        os.replace(path + ".tmp", path)
        return {"type": "ok", "value": value}


def main():
    global WORKLOAD
    init = json.loads(sys.stdin.readline())
    WORKLOAD = init.get("workload", "register")
    if mode == "mute":
        sys.stdin.read()
        return
    folder, prefix = init["address"], init["prefix"]
    send({"type": "init_ok"})
    done = 0
    for line in sys.stdin:
        req = json.loads(line)
        if req["type"] in ("setup", "teardown"):
            send({"type": "ok", "id": req["id"]})
            continue
        if mode == "exit" and done == after:
            sys.exit(0)
        if mode == "hang" and done == after:
            sys.stdin.read()
            return
        reply = apply(folder, prefix, req)
        if mode == "crash" and done == after:
            print("crashing on purpose", file=sys.stderr)
            os._exit(3)
        if mode == "garbage" and done == after:
            sys.stdout.write("this is not json\n")
            sys.stdout.flush()
            done += 1
            continue
        reply["id"] = req["id"]
        send(reply)
        done += 1


main()
