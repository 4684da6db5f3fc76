# Allocation-heavy Python workload for python.sh: dicts, lists, strings and bytes of many sizes,
# reference cycles collected by gc, resizing buffers, and a few threads. Everything printed is
# deterministic (seeded generators, sorted output), so two runs on different allocators must print
# the same lines; a corrupted object shows up as a different digest or a crash.
import gc
import hashlib
import json
import random
import sys
import threading
import zlib

rng = random.Random(20240611)
digest = hashlib.sha256()


def record(name, value):
    text = "%s %s" % (name, value)
    digest.update(text.encode())
    print(text)


def sizes():
    # many sizes: tiny, around powers of two and class edges, medium, and a few MiB
    out = [rng.randrange(0, 64) for _ in range(2000)]
    for p in range(4, 23):
        for d in (-17, -1, 0, 1, 16, (1 << p) // 4):
            out.append(max(0, (1 << p) + d))
    out += [rng.randrange(1000, 200000) for _ in range(300)]
    out += [rng.randrange(1 << 20, 6 << 20) for _ in range(6)]
    return out


def strings_and_bytes():
    blobs = []
    for i, n in enumerate(sizes()):
        b = bytes((i + k) & 0xFF for k in range(min(n, 256))) * (n // 256 + 1)
        blobs.append(b[:n])
    record("blobs", sum(len(b) for b in blobs))
    record("blobs_crc", zlib.crc32(b"".join(blobs[::7])))
    # str building, joining, slicing, formatting
    parts = ["%d:%s" % (i, "x" * (i % 97)) for i in range(30000)]
    s = ",".join(parts)
    record("joined", (len(s), zlib.crc32(s.encode())))
    words = s.split(",")
    record("split", (len(words), sum(map(len, words))))
    # bytearray grown and shrunk in place (realloc)
    ba = bytearray()
    for i in range(100000):
        ba += bytes([i & 0xFF]) * (i % 13)
        if i % 5000 == 0:
            del ba[: len(ba) // 3]
    record("bytearray", (len(ba), zlib.crc32(ba)))


def dicts_and_lists():
    d = {}
    for i in range(150000):
        d["k%07d" % rng.randrange(10**7)] = [i] * (i % 11)
    record("dict_len", len(d))
    keys = sorted(d)
    record("dict_keys_crc", zlib.crc32("".join(keys[::13]).encode()))
    for k in keys[::2]:
        del d[k]
    record("dict_after_delete", (len(d), sum(len(v) for v in d.values())))
    nested = [[j * i for j in range(i % 50)] for i in range(30000)]
    record("nested", sum(map(sum, nested)) % 1000003)
    big = list(range(1000000))
    rng.shuffle(big)
    big.sort()
    record("big_sorted", big == list(range(1000000)))
    tuples = sorted((rng.random(), str(i)) for i in range(100000))
    record("tuples", tuples[12345][1])
    obj = {"a%d" % i: {"v": list(range(i % 30)), "s": "y" * (i % 300)} for i in range(20000)}
    text = json.dumps(obj, sort_keys=True)
    record("json", (len(text), zlib.crc32(text.encode())))
    record("json_roundtrip", json.loads(text) == obj)


class Node:
    def __init__(self, i):
        self.i = i
        self.payload = "p" * (i % 200)
        self.other = None


def cycles():
    collected = 0
    for round_ in range(15):
        nodes = [Node(i) for i in range(20000)]
        for i, n in enumerate(nodes):
            n.other = nodes[(i * 7 + round_) % len(nodes)]
        ring = nodes
        del nodes
        del ring
        collected += gc.collect()
    record("gc_collected_nonzero", collected > 0)
    alive = [Node(i) for i in range(1000)]
    record("gc_survivors", sum(n.i for n in alive))


def threads():
    results = [None] * 4

    def work(t):
        r = random.Random(t)
        acc = []
        for i in range(40000):
            acc.append(("%d-%d" % (t, i)) * (1 + r.randrange(20)))
            if len(acc) > 500:
                acc = acc[250:]
        results[t] = zlib.crc32("".join(acc).encode())

    ts = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    record("threads", results)


strings_and_bytes()
dicts_and_lists()
cycles()
threads()
print("digest", digest.hexdigest())
sys.stdout.flush()
