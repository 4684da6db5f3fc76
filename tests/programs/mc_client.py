# memcached text-protocol client for memcached.sh: stores values of many sizes (1 B to 3 MiB) and
# reads every one back, then appends, prepends, counters, replaces and deletes, and multi-gets.
# Prints one deterministic line per check and exits non-zero on the first wrong answer.
#
# memcached may evict under its memory limit (-m): the soak fills it with memaslap's data round
# after round, and a value of ours can lose its slab page. A value that is missing is therefore
# accepted only when memcached's own `evictions` counter rose since this client started; it is
# then stored again and must read back exactly. Wrong bytes are never accepted, and neither is a
# missing value without an eviction. The transcript does not depend on evictions; how many values
# were stored again goes to stderr.
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


def reply_lines(line):
    """Sends a command and yields the lines of its reply up to END (the caller may read a data
    block after a line before asking for the next)."""
    f.write(line.encode() + b"\r\n")
    f.flush()
    while True:
        reply = f.readline().rstrip(b"\r\n").decode()
        if reply == "END":
            return
        yield reply


def get_many(keys):
    got = {}
    for line in reply_lines("get " + " ".join(keys)):
        parts = line.split()
        if parts[0] != "VALUE":
            fail("unexpected reply " + line)
        n = int(parts[3])
        got[parts[1]] = f.read(n + 2)[:n]
    return got


def server_stats():
    out = {}
    for line in reply_lines("stats"):
        parts = line.split(" ", 2)
        if parts[0] != "STAT" or len(parts) != 3:
            fail("unexpected stats reply " + line)
        out[parts[1]] = parts[2]
    return out


EVICTIONS_AT_START = int(server_stats()["evictions"])
stored_again = 0


def evicted():
    """Whether memcached has evicted anything since this client started."""
    return int(server_stats()["evictions"]) > EVICTIONS_AT_START


def store(k, data, verb="set"):
    return cmd("%s %s 0 0 %d" % (verb, k, len(data)), data)


def settle(k, want, got, why):
    """The value read for k was not want: accept only an eviction, then store it again and read
    it back; anything else fails with why."""
    global stored_again
    for _ in range(3):
        if got is not None or want is None or not evicted():
            break
        if store(k, want) != "STORED":
            fail("%s: set again after eviction" % why)
        stored_again += 1
        got = get_many([k]).get(k)
        if got == want:
            return
    fail("%s: %s" % (why, what(got, k)))


def check(k, want, why):
    got = get_many([k]).get(k)
    if got != want:
        settle(k, want, got, why)


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
    check(k, value(k, n), "read back %s (%d bytes)" % (k, n))
print("values", len(keys), "read back ok")

for i in range(0, len(keys), 10):
    batch = keys[i:i + 10]
    got = get_many([k for k, _ in batch])
    for k, n in batch:
        if got.get(k) != value(k, n):
            settle(k, value(k, n), got.get(k), "multi-get " + k)
print("multi-get ok")

# append/prepend grow values through many size classes in place or by copy
grow = b"x"
if store("grow", grow) != "STORED":
    fail("set grow")
for i in range(200):
    piece = bytes([65 + i % 26]) * (i * 13 % 700)
    verb = "append" if i % 2 else "prepend"
    if store("grow", piece, verb) != "STORED":
        if not evicted() or store("grow", grow) != "STORED" or store("grow", piece, verb) != "STORED":
            fail(verb)
        stored_again += 1
    grow = grow + piece if i % 2 else piece + grow
check("grow", grow, "grown value")
print("grown", len(grow), zlib.crc32(grow))

counters = [0] * 500
for i in range(500):
    if store("c%d" % i, b"0") != "STORED":
        fail("set counter")
for r in range(20):
    for i in range(500):
        reply = cmd("incr c%d %d" % (i, r + 1))
        if reply == "NOT_FOUND" and evicted():
            if store("c%d" % i, str(counters[i]).encode()) != "STORED":
                fail("set counter again after eviction")
            stored_again += 1
            reply = cmd("incr c%d %d" % (i, r + 1))
        if not reply.isdigit() or int(reply) != counters[i] + r + 1:
            fail("incr c%d: %s" % (i, reply))
        counters[i] = int(reply)
print("counter", counters[-1])

for k, n in keys[::3]:
    new = value(k + "r", n // 2 + 1)
    reply = store(k, new, "replace")
    if reply == "NOT_STORED" and evicted():  # replace stores only over a value that is there
        reply = store(k, new)
        stored_again += 1
    if reply != "STORED":
        fail("replace " + k)
for k, n in keys[1::3]:
    reply = cmd("delete " + k)
    if reply != "DELETED" and not (reply == "NOT_FOUND" and evicted()):
        fail("delete " + k)
ok = 0
for i, (k, n) in enumerate(keys):
    want = value(k + "r", n // 2 + 1) if i % 3 == 0 else None if i % 3 == 1 else value(k, n)
    check(k, want, "after replace/delete: " + k)
    ok += 1
print("after replace/delete", ok, "ok")
cmd("flush_all")
print("done")
if stored_again:
    sys.stderr.write("mc_client.py: memcached evicted (its counter: %d); %d values stored again "
                     "and read back exactly\n" % (int(server_stats()["evictions"]) - EVICTIONS_AT_START,
                                                   stored_again))
