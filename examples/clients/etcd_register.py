#!/usr/bin/env python3
"""The `register` workload on etcd 3.4, through its v3 JSON gateway.

    chaos run --system etcd --client 'python3 examples/clients/etcd_register.py'

Each key is an independent register stored at prefix + key; values are
integers stored as their decimal text.

- read: a range on the key: ok with its value, or null if absent. With
  `read` "serializable" the node answers from its own store (may be stale);
  otherwise (linearizable, or no choice) through the leader.
- write v: a put: ok.
- cas [from, to]: a txn comparing the key's VALUE with from and, if equal,
  putting to: ok, or fail "mismatch" when the compare did not hold (the txn
  then changed nothing: definite).

How transport errors become fail or info: etcd_gateway.py.
"""

import json

from chaos_client import Fail, Handler, NotSupported, serve
from etcd_gateway import Gateway, b64, delete_prefix_anywhere, unb64


def encode(value):
    # bool is an int in Python; a register holds integers only.
    if not isinstance(value, int) or isinstance(value, bool):
        raise Fail("bad-op: not an integer: %r" % (value,))
    return b64(str(value))


def decode(kv):
    # The gateway leaves out empty fields: an empty value has no "value".
    # Someone else's non-integer value is returned as its text.
    text = unb64(kv.get("value", ""))
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, int) and not isinstance(value, bool) else text


class EtcdRegister(Handler):
    def __init__(self, init):
        self.init = init
        self.prefix = init["prefix"]
        self.serializable = init.get("read") == "serializable"
        # Connects at the first op: a node down now is that op's fail.
        self.etcd = Gateway(init["address"])

    def key(self, key):
        return b64(self.prefix + (key if isinstance(key, str) else json.dumps(key)))

    def invoke(self, f, key, value):
        if f == "read":
            r = self.etcd.call("/v3/kv/range", {"key": self.key(key),
                                                "serializable": self.serializable})
            kvs = r.get("kvs", [])
            return decode(kvs[0]) if kvs else None
        if f == "write":
            self.etcd.call("/v3/kv/put", {"key": self.key(key), "value": encode(value)})
            return value
        if f == "cas":
            if not (isinstance(value, list) and len(value) == 2):
                raise Fail("bad-op: cas wants [from, to], got %r" % (value,))
            k = self.key(key)
            r = self.etcd.call("/v3/kv/txn", {
                "compare": [{"key": k, "target": "VALUE", "result": "EQUAL",
                             "value": encode(value[0])}],
                "success": [{"request_put": {"key": k, "value": encode(value[1])}}],
            })
            # The gateway leaves out "succeeded" when it is false.
            if r.get("succeeded") is True:
                return value
            raise Fail("mismatch")
        raise NotSupported("the register has no op %r" % f)

    def teardown(self):
        return delete_prefix_anywhere(self.init, self.prefix)

    def close(self):
        self.etcd.close()


if __name__ == "__main__":
    serve(EtcdRegister, "register")
