"""etcd 3.4's v3 JSON gateway over one kept-alive HTTP/1.1 connection.

`call(path, body)` POSTs a JSON body and returns the JSON answer of a 200, or
raises, by what we know of the request's fate:

| what happened                                           | raises |
|---------------------------------------------------------|--------|
| connecting failed (refused, unreachable, no SYN-ACK)    | Fail: not one byte of the request was sent |
| the kept-alive connection had closed before we sent     | reconnect, then as above |
| a timeout (5 s), a reset or EOF after sending           | Info: the node may have applied it |
| any HTTP status but 200 (503 no leader, 504 timed out)  | Info: etcd may still apply it |
| a 200 whose body is not a JSON answer with a header     | Info |
"""

import base64
import http.client
import json
import select
import socket
import urllib.parse

from chaos_client import Fail, Info

# Long enough for a healthy cluster under load, short enough that a paused
# node costs one op, not the run. The harness has its own deadline.
TIMEOUT_SECONDS = 5.0


def b64(text):
    return base64.b64encode(text.encode()).decode()


def unb64(text):
    return base64.b64decode(text).decode()


def prefix_end(prefix):
    """The range_end that makes [prefix, end) exactly the keys starting with prefix."""
    raw = prefix.encode()
    if not raw or raw[-1] == 0xFF:
        raise Fail("cannot make a range from prefix %r" % prefix)
    return (raw[:-1] + bytes([raw[-1] + 1])).decode()


class Gateway:
    def __init__(self, address):
        url = urllib.parse.urlsplit(address if "://" in address else "http://" + address)
        self.host = url.hostname
        self.port = url.port or 2379
        self.conn = None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _connected(self):
        """A connection nothing of ours is in flight on; Fail if none can be made."""
        if self.conn is not None and (self.conn.sock is None or self._peer_closed()):
            self.close()
        if self.conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT_SECONDS)
            try:
                conn.connect()
            except OSError as e:
                raise Fail("refused: %s:%s: %s" % (self.host, self.port, e))
            self.conn = conn
        return self.conn

    def _peer_closed(self):
        # An idle HTTP connection is readable only if the server closed it
        # (a restarted node): writing to it would make an `info` of an op
        # that never left us, so we reconnect instead.
        readable, _, _ = select.select([self.conn.sock], [], [], 0)
        return bool(readable)

    def call(self, path, body):
        conn = self._connected()
        try:
            conn.request("POST", path, body=json.dumps(body),
                         headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as e:
            # From the first byte written on, the node may have the request.
            self.close()
            if isinstance(e, socket.timeout):
                raise Info("timeout")
            raise Info("connection-lost: %s: %s" % (type(e).__name__, e))
        text = data.decode(errors="replace")
        if response.status != 200:
            try:
                message = json.loads(text).get("error", text)
            except (ValueError, AttributeError):
                message = text.strip()
            raise Info("http-%d: %s" % (response.status, message))
        try:
            answer = json.loads(text)
        except ValueError:
            answer = None
        # Every KV answer has a header; without one we understand nothing
        # (and must not read a missing "succeeded" as a mismatch).
        if not isinstance(answer, dict) or "header" not in answer:
            raise Info("bad-response: %s" % text[:200])
        return answer

    def delete_prefix(self, prefix):
        """Deletes every key under prefix: idempotent, so safe to repeat after an Info."""
        self.call("/v3/kv/deleterange", {"key": b64(prefix), "range_end": b64(prefix_end(prefix))})
        return None


def delete_prefix_anywhere(init, prefix):
    """The teardown: tries this process's node, then each other node in turn."""
    addresses = [init["address"]] + [n["address"] for n in init.get("nodes", [])
                                      if n["address"] != init["address"]]
    errors = []
    for address in addresses:
        gateway = Gateway(address)
        try:
            return gateway.delete_prefix(prefix)
        except (Fail, Info) as e:
            errors.append((e, "%s: %s" % (address, e)))
        finally:
            gateway.close()
    # Definite only if no node could have received the delete.
    message = "; ".join(text for _, text in errors)
    if all(isinstance(e, Fail) for e, _ in errors):
        raise Fail(message)
    raise Info(message)
