#!/usr/bin/env python3
"""check_json.py TOOL DUMPS: runs tieralloc-topology --json on this machine and on every dump in
DUMPS (extracted sysfs trees and XML exports) and checks the JSON contract of docs/topology.md:
the keys and their types, the invariants between nodes, ranks and heaps, the profile reported for
each dump's processor, and that for sysfs dumps the bootstrap reader and hwloc agree."""
import json, os, re, subprocess, sys

tool, dumps = sys.argv[1], sys.argv[2]
KINDS = {"dram", "hbm", "pmem", "cxl", "gpu", "unknown"}
CPULIST = re.compile(r"^(\d+(-\d+)?(,\d+(-\d+)?)*)?$")
# The profile each dump's cpuinfo calls for: x86 dumps x86-64; the Kunpeng 920 (HiSilicon part
# 0xd01, not a Neoverse), the POWER9 and the synthetic dump without a cpuinfo generic.
# The QEMU AArch64 guest runs the neoverse-n1 CPU model.
PROFILE = {"128arm-2pa2n8cluster4co": "generic", "nvidiagpunumanodes": "generic", "fakeheterocpunuma": "generic",
           "qemu-aarch64-neoverse-n1": "neoverse-n1"}
failures = []


def fail(where, msg):
    failures.append(f"{where}: {msg}")


def run(args):
    r = subprocess.run([tool, "--json"] + args, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"{args}: exit {r.returncode}: {r.stderr}")
    return json.loads(r.stdout)


def check(where, doc):
    for key in ("nodes", "initiators", "profile"):
        if key not in doc:
            fail(where, f"missing {key}")
            return
    if not isinstance(doc["profile"], str) or not doc["profile"]:
        fail(where, "profile is not a name")
    nodes = {}
    for n in doc["nodes"]:
        for key, typ in (("os_index", int), ("kind", str), ("cpus", str), ("capacity_bytes", int), ("usable", bool)):
            if not isinstance(n.get(key), typ):
                fail(where, f"node {n}: {key} is not {typ.__name__}")
        if n["kind"] not in KINDS:
            fail(where, f"node {n['os_index']}: kind {n['kind']}")
        if not CPULIST.match(n["cpus"]):
            fail(where, f"node {n['os_index']}: cpus {n['cpus']!r}")
        nodes[n["os_index"]] = n
    if not doc["initiators"]:
        fail(where, "no initiator")
    for i in doc["initiators"]:
        if not isinstance(i.get("cpus"), str) or not i["cpus"] or not CPULIST.match(i["cpus"]):
            fail(where, f"initiator cpus {i.get('cpus')!r}")
        home = i.get("home_node", "missing")
        if home == "missing" or not (home is None or isinstance(home, int)):
            fail(where, f"initiator {i['cpus']}: home_node {home!r}")
        rank = i.get("rank")
        if not isinstance(rank, list) or not all(isinstance(g, list) and g and all(isinstance(x, int) for x in g) for g in rank):
            fail(where, f"initiator {i['cpus']}: rank {rank!r}")
            continue
        flat = [x for g in rank for x in g]
        if len(flat) != len(set(flat)):
            fail(where, f"initiator {i['cpus']}: a node ranked twice")
        for x in flat:
            if x not in nodes or not nodes[x]["usable"] or nodes[x]["kind"] == "gpu":
                fail(where, f"initiator {i['cpus']}: ranks node {x} (unusable, gpu or absent)")
        if home is not None and rank[0] != [home]:
            fail(where, f"initiator {i['cpus']}: home {home} is not alone in the first tier {rank[0]}")
        heap = i.get("default_heap")
        if not isinstance(heap, list) or not heap:
            fail(where, f"initiator {i['cpus']}: default_heap {heap!r}")
            continue
        if [x for x in flat if x in heap] != heap:
            fail(where, f"initiator {i['cpus']}: heap {heap} is not in rank order {flat}")
        if any(nodes[x]["kind"] in ("gpu",) for x in heap):
            fail(where, f"initiator {i['cpus']}: GPU memory in the default heap")
        if any(nodes[x]["kind"] == "hbm" for x in heap) and any(nodes[x]["kind"] != "hbm" for x in flat):
            fail(where, f"initiator {i['cpus']}: HBM in the default heap although other memory exists")


def summary(doc):
    return ([(n["os_index"], n["kind"], n["cpus"], n["usable"]) for n in doc["nodes"]],
            [(i["cpus"], i["home_node"], i["rank"], i["default_heap"]) for i in doc["initiators"]])


check("this machine", run([]))
count = 0
for name in sorted(n for n in os.listdir(dumps) if not n.startswith(".")):
    path = os.path.join(dumps, name)
    count += 1
    if name.endswith(".xml"):
        doc = run(["--xml", path])
        check(name, doc)
        want = "x86-64"
    else:
        doc = run(["--fsroot", path])
        check(name, doc)
        sysfs, hwloc = run(["--fsroot", path, "--source", "sysfs"]), run(["--fsroot", path, "--source", "hwloc"])
        check(name + " (sysfs)", sysfs)
        check(name + " (hwloc)", hwloc)
        if summary(sysfs) != summary(hwloc):
            fail(name, f"sysfs and hwloc disagree:\n  sysfs {summary(sysfs)}\n  hwloc {summary(hwloc)}")
        want = PROFILE.get(name, "x86-64")
    if doc["profile"] != want:
        fail(name, f"profile {doc['profile']}, expected {want}")
    table = subprocess.run([tool] + (["--xml", path] if name.endswith(".xml") else ["--fsroot", path]),
                           capture_output=True, text=True, timeout=120)
    if table.returncode != 0 or "initiator" not in table.stdout:
        fail(name, f"table output failed: {table.stderr}")

# No real dump has a Neoverse: a minimal synthetic tree with an N1's cpuinfo checks that the MIDR
# fields of a dump choose the profile.
import tempfile
with tempfile.TemporaryDirectory() as root:
    def put(rel, text):
        os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
        with open(os.path.join(root, rel), "w") as f:
            f.write(text)
    put("sys/devices/system/cpu/online", "0-1\n")
    put("sys/devices/system/node/online", "0\n")
    put("sys/devices/system/node/node0/cpulist", "0-1\n")
    put("sys/devices/system/node/node0/meminfo", "Node 0 MemTotal: 1048576 kB\n")
    put("sys/devices/system/node/node0/distance", "10\n")
    for part, want in (("0xd0c", "neoverse-n1"), ("0xd4f", "neoverse-v2"), ("0xd01", "generic")):
        put("proc/cpuinfo", f"processor\t: 0\nBogoMIPS\t: 50.00\nCPU implementer\t: {'0x48' if part == '0xd01' else '0x41'}\n"
                            f"CPU architecture: 8\nCPU variant\t: 0x1\nCPU part\t: {part}\n")
        doc = run(["--fsroot", root, "--source", "sysfs"])
        check(f"synthetic arm {part}", doc)
        if doc["profile"] != want:
            fail(f"synthetic arm {part}", f"profile {doc['profile']}, expected {want}")

if count < 15:
    fail(dumps, f"only {count} dumps found")
for f in failures:
    print("FAIL", f)
print(f"{count} dumps checked, {len(failures)} failures")
sys.exit(1 if failures else 0)
