#!/usr/bin/env python3
"""The `queue` workload on etcd 3.4, through its v3 JSON gateway.

    chaos run --system etcd --workload queue --client 'python3 examples/clients/etcd_queue.py'

The queue is the keys under prefix + "q/", oldest first by create revision.

- enqueue v: a put of a new key (v zero-padded; values are unique): ok.
- dequeue: a linearizable range for the oldest key, then a txn deleting it
  if its mod_revision is still the one we read. The delete is what takes the
  element: ok with it. A range that finds nothing: ok null.
- drain: dequeue until empty: ok with the list taken.

Which outcomes are definite (transport errors per call: etcd_gateway.py):

- A range changes nothing, and a txn whose guard failed deleted nothing. So
  a dequeue whose every txn answered "guard failed" took nothing, whatever
  happened to its ranges: `fail`. That covers losing the race for the head
  RETRIES times in a row (another consumer took each one; we may try again
  with a new op) and a range that timed out.
- A txn we got no answer to may have deleted the element: `info`, at once.
  Retrying could take a second element in the same op, and one would be lost.
- A drain that stops after taking some elements has had an effect, yet did
  not empty the queue: `info` (an `ok` with part of the list would claim the
  rest lost). One that stops before taking any: as a dequeue. A lost race
  does not stop a drain: it goes on to the next head.
"""

from chaos_client import Fail, Handler, Info, NotSupported, log, serve
from etcd_gateway import Gateway, b64, delete_prefix_anywhere, prefix_end, unb64

# Lost races for the head before a dequeue gives up (definitely: took nothing).
RETRIES = 5


class Contended(Fail):
    """Every guard we tried failed: others took the heads; we took nothing."""


class EtcdQueue(Handler):
    def __init__(self, init):
        self.init = init
        self.prefix = init["prefix"]
        self.queue = self.prefix + "q/"
        # Connects at the first op: a node down now is that op's fail.
        self.etcd = Gateway(init["address"])

    def invoke(self, f, key, value):
        if f == "enqueue":
            if not isinstance(value, int) or isinstance(value, bool):
                raise Fail("bad-op: not an integer: %r" % (value,))
            # Unique per value, so a put never overwrites another element.
            name = self.queue + "%020d" % value
            self.etcd.call("/v3/kv/put", {"key": b64(name), "value": b64(str(value))})
            return value
        if f == "dequeue":
            return self.take()
        if f == "drain":
            return self.drain()
        raise NotSupported("the queue has no op %r" % f)

    def oldest(self):
        """The oldest element's kv, or None if the queue is empty."""
        try:
            # Linearizable whatever the run's read mode: a stale, empty view
            # would make a dequeue answer null while the queue held elements.
            r = self.etcd.call("/v3/kv/range", {
                "key": b64(self.queue), "range_end": b64(prefix_end(self.queue)),
                "sort_target": "CREATE", "sort_order": "ASCEND", "limit": 1,
            })
        except Info as e:
            # A range has no effect: nothing was taken in this attempt.
            raise Fail("range: %s" % e)
        kvs = r.get("kvs", [])
        return kvs[0] if kvs else None

    def take(self):
        """Takes the oldest element: its value, or None if the queue was empty."""
        for _ in range(RETRIES):
            kv = self.oldest()
            if kv is None:
                return None
            r = self.etcd.call("/v3/kv/txn", {
                "compare": [{"key": kv["key"], "target": "MOD", "result": "EQUAL",
                             "mod_revision": kv["mod_revision"]}],
                "success": [{"request_delete_range": {"key": kv["key"]}}],
            })
            # The gateway leaves out "succeeded" when it is false.
            if r.get("succeeded") is True:
                return int(unb64(kv["value"]))
            # The guard failed: someone else took it (and changed nothing here).
        raise Contended("contention: lost the head %d times" % RETRIES)

    def drain(self):
        taken = []
        while True:
            try:
                value = self.take()
            except Contended:
                # The final drain runs alone; a contended head just means
                # another consumer took it, and we try the next one.
                continue
            except (Fail, Info) as e:
                if not taken:
                    raise
                log("drain stopped after taking %r: %s" % (taken, e))
                raise Info("drain stopped after %d elements: %s" % (len(taken), e))
            if value is None:
                return taken
            taken.append(value)

    def teardown(self):
        return delete_prefix_anywhere(self.init, self.prefix)

    def close(self):
        self.etcd.close()


if __name__ == "__main__":
    serve(EtcdQueue, "queue")
