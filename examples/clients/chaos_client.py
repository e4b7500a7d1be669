"""The program's side of the chaos client protocol, version 1 (docs/protocol.md).

The harness writes JSON lines on our stdin and reads one JSON line per request
on our stdout; stderr goes to a log file. A client for a system supplies a
`Handler` with `invoke(f, key, value)`, `setup()` and `teardown()`. Each
returns the value observed (the op took effect: `ok`), or raises `Fail` (the
op CERTAINLY had no effect) or `Info` (it may or may not have). Anything else
it raises is answered `info`: when in doubt, info. A wrong `fail` makes a
correct system look broken; a wrong `info` costs nothing.
"""

import json
import sys
import traceback

PROTOCOL = 1


class Fail(Exception):
    """The op certainly had no effect (nothing was sent, a compare did not match)."""


class Info(Exception):
    """The op may have taken effect, now or later, or never."""


class NotSupported(Exception):
    """This client cannot do that request: Maelstrom error 10, a definite failure."""


class Handler:
    """What a client overrides; the defaults say what a minimal one does."""

    def invoke(self, f, key, value):
        raise NotSupported("no op %r" % f)

    def setup(self):
        # Nothing to create before the ops.
        return None

    def teardown(self):
        raise NotSupported("teardown")

    def close(self):
        pass


def log(*parts):
    """Debug output goes to stderr: stdout carries protocol lines only."""
    print(*parts, file=sys.stderr, flush=True)


def send(message):
    # One line per message, flushed at once: the harness waits for it.
    sys.stdout.write(json.dumps(message, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def answer(handler, request):
    """The reply to one request (its `id` is added by the caller)."""
    kind = request.get("type")
    try:
        if kind == "invoke":
            value = handler.invoke(request.get("f"), request.get("key"), request.get("value"))
        elif kind == "setup":
            value = handler.setup()
        elif kind == "teardown":
            value = handler.teardown()
        else:
            raise NotSupported("unknown request type %r" % kind)
        return {"type": "ok", "value": value}
    except Fail as e:
        return {"type": "fail", "error": str(e)}
    except NotSupported as e:
        return {"type": "error", "code": 10, "text": str(e)}
    except Info as e:
        return {"type": "info", "error": str(e)}
    except Exception as e:  # a bug or a surprise: we cannot know what happened
        traceback.print_exc(file=sys.stderr)
        return {"type": "info", "error": "client-exception: %s" % e}


def serve(make_handler, workload):
    """Runs the protocol until the harness closes stdin, then returns.

    Exits with status 2 and one line on stderr if the first line is not an
    init of protocol 1 for `workload` (the wrong client for the run).

    `make_handler(init)` gets the init message (node address, prefix, read
    mode...) and returns the handler; it should not talk to the system yet:
    it must be quick (the harness waits 10 s for init_ok), and a node that is
    down at start is the first op's `fail`, not a dead client.
    """
    first = sys.stdin.readline()
    try:
        init = json.loads(first)
    except ValueError:
        log("expected the init line, got %r" % first)
        sys.exit(2)
    if init.get("type") != "init" or init.get("protocol") != PROTOCOL:
        log("expected init with protocol %d, got %r" % (PROTOCOL, first))
        sys.exit(2)
    if init.get("workload") != workload:
        log("this client does the %s workload, not %r" % (workload, init.get("workload")))
        sys.exit(2)
    handler = make_handler(init)
    send({"type": "init_ok"})
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except ValueError:
            log("ignored a line that is not JSON: %r" % line)
            continue
        if not isinstance(request, dict) or not isinstance(request.get("id"), int):
            # Without an id no reply can be matched to it; the harness will
            # time the request out.
            log("ignored a request without an integer id: %r" % line)
            continue
        reply = answer(handler, request)
        reply["id"] = request["id"]
        send(reply)
    # stdin closed: the harness is done with us.
    handler.close()
