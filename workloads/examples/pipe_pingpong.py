#!/usr/bin/env python3
"""The yardstick for protocol_throughput: the same echo client, driven by
the simplest possible harness (blocking writes and reads, no history, no
timeouts, no checker). What it reaches is the machine's floor for one
request and one reply at a time over two pipes.

  python3 workloads/examples/pipe_pingpong.py target/release/examples/protocol_echo 100000
"""
import io
import subprocess
import sys
import time

echo, n = sys.argv[1], int(sys.argv[2])
child = subprocess.Popen([echo], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
out, replies = child.stdin, io.BufferedReader(child.stdout)
out.write(b'{"type":"init"}\n')
replies.readline()
start = time.monotonic()
for i in range(n):
    out.write(b'{"type":"invoke","id":%d,"f":"read","key":1,"value":null}\n' % i)
    replies.readline()
took = time.monotonic() - start
print("%d round trips in %.2f s: %.0f/s" % (n, took, n / took))
out.close()
child.wait()
