# memcached text-protocol client for memcached.sh: stores values of many sizes (1 B to 3 MiB) and
# reads every one back, then appends, prepends, counters, replaces and deletes, and multi-gets.
# Prints one deterministic line per check and exits non-zero on the first wrong answer.
# Usage: mc_client.py PORT
import socket
import sys
import zlib

sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
f = sock.makefile("rwb")


def fail(msg):
    print("FAIL", msg)
    sys.exit(1)


def cmd(line, data=None):
    f.write(line.encode() + b"\r\n")
    if data is not None:
        f.write(data + b"\r\n")
    f.flush()
    return f.readline().rstrip(b"\r\n").decode()


def get_many(keys):
    f.write(("get " + " ".join(keys) + "\r\n").encode())
    f.flush()
    got = {}
    while True:
        line = f.readline().rstrip(b"\r\n").decode()
        if line == "END":
            return got
        parts = line.split()
        if parts[0] != "VALUE":
            fail("unexpected reply " + line)
        n = int(parts[3])
        data = f.read(n + 2)[:n]
        got[parts[1]] = data


def what(got, k):
    """Why a read gave the wrong answer: a value memcached no longer has (its own eviction, under
    -m) is not the same finding as one whose bytes changed."""
    return "missing" if got.get(k) is None else "wrong bytes"


def value(key, n):
    seed = zlib.crc32(key.encode())
    block = bytes((seed + i * 31) & 0xFF for i in range(251))
    return (block * (n // 251 + 1))[:n]


sizes = []
for p in range(0, 22):
    for d in (-1, 0, 1, 4):
        if (1 << p) + d > 0:
            sizes.append((1 << p) + d)
sizes += [8196, 16388, 100000, 3 * 1024 * 1024]
sizes = sorted(set(sizes))

keys = []
for rnd in range(3):
    for n in sizes:
        k = "k%d_%d" % (rnd, n)
        if cmd("set %s %d 0 %d" % (k, n, n), value(k, n)) != "STORED":
            fail("set " + k)
        keys.append((k, n))
for k, n in keys:
    got = get_many([k])
    if got.get(k) != value(k, n):
        fail("read back %s (%d bytes): %s" % (k, n, what(got, k)))
print("values", len(keys), "read back ok")

for i in range(0, len(keys), 10):
    batch = keys[i:i + 10]
    got = get_many([k for k, _ in batch])
    for k, n in batch:
        if got.get(k) != value(k, n):
            fail("multi-get %s: %s" % (k, what(got, k)))
print("multi-get ok")

# append/prepend grow values through many size classes in place or by copy
if cmd("set grow 0 0 1", b"x") != "STORED":
    fail("set grow")
for i in range(200):
    piece = bytes([65 + i % 26]) * (i * 13 % 700)
    verb = "append" if i % 2 else "prepend"
    if cmd("%s grow 0 0 %d" % (verb, len(piece)), piece) != "STORED":
        fail(verb)
g = get_many(["grow"])["grow"]
print("grown", len(g), zlib.crc32(g))

for i in range(500):
    cmd("set c%d 0 0 1" % i, b"0")
total = 0
for r in range(20):
    for i in range(500):
        total = int(cmd("incr c%d %d" % (i, r + 1)))
print("counter", total)

for k, n in keys[::3]:
    new = value(k + "r", n // 2 + 1)
    if cmd("replace %s 0 0 %d" % (k, len(new)), new) != "STORED":
        fail("replace " + k)
for k, n in keys[1::3]:
    if cmd("delete " + k) != "DELETED":
        fail("delete " + k)
ok = 0
for i, (k, n) in enumerate(keys):
    got = get_many([k]).get(k)
    want = value(k + "r", n // 2 + 1) if i % 3 == 0 else None if i % 3 == 1 else value(k, n)
    if got != want:
        fail("after replace/delete: " + k)
    ok += 1
print("after replace/delete", ok, "ok")
cmd("flush_all")
print("done")
