"""Real servers under each allocator: redis-server driven by redis-benchmark, memcached driven by
memcaslap (libmemcached-tools). Each server listens on 127.0.0.1 on a free port, is started and
stopped here, and is measured from the outside through /proc/PID.

redis and jemalloc: Debian's redis-server is dynamically linked to libjemalloc.so.2 and imports,
besides malloc/calloc/realloc/free/malloc_usable_size, jemalloc's own mallctl, nallocx and
malloc_stats_print. Under LD_PRELOAD the malloc family resolves to the preloaded allocator (it is
first in the lookup order) while mallctl/nallocx/malloc_stats_print, which the preloaded library
does not define, still resolve to jemalloc. So jemalloc is always loaded and initialised: redis
switches on its background thread at start (jemalloc-bg-thread yes), INFO still says
"mem_allocator:jemalloc-5.3.0", the allocator_* fields of INFO memory describe jemalloc's nearly
empty heap, and MEMORY PURGE purges jemalloc, not the allocator under test. Without any preload,
redis runs on jemalloc: so the "glibc" run of redis preloads a shim (bench/shim/glibc_malloc.c)
that forwards the malloc family to glibc's __libc_* entry points."""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from . import procmem
from . import proc


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port, child, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"server exited at start: {child.stderr.strip()[-400:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not listen on port {port} within {timeout} s")


def _idle_watch(pid, idle_s, interval_s):
    """Samples the server every interval while it is idle; returns the series and the last sample."""
    series, last = [], None
    t0 = time.monotonic()
    i = 0
    while True:
        at = t0 + i * interval_s
        if at > t0 + idle_s + 1e-9:
            break
        delay = at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        m = procmem.sample(pid)
        if m is None:
            break
        last = m
        series.append([round(time.monotonic() - t0, 3), m["rss_kb"], m["anon_kb"], m["anon_huge_kb"]])
        i += 1
    return series, last


# ---- redis ----

def _resp(port, *args, timeout=60):
    """Sends one command in RESP and returns the decoded reply (str, int or None)."""
    payload = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(payload.encode())
        f = s.makefile("rb")
        line = f.readline()
        if not line:
            return None
        kind, rest = line[:1], line[1:].rstrip(b"\r\n").decode()
        if kind == b"+":
            return rest
        if kind == b"-":
            raise RuntimeError("redis error: " + rest)
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else f.read(n + 2)[:-2].decode(errors="replace")
        return rest


def redis_phases(quick, scale=1.0):
    """redis-benchmark invocations: values of three sizes written over the same keys (so values are
    replaced by values of other sizes, as a live dataset changes), reads, and the collection types.
    -P 16 pipelines requests so the server's own work, allocation included, is a larger share of the
    time than the loopback round trips."""
    n, keys = (30000, 20000) if quick else (300000, 100000)
    n = max(100, int(n * scale))
    common = ["-c", "20", "-P", "16", "-r", str(keys), "-n", str(n)]
    return [
        ["-t", "set", "-d", "64"] + common,
        ["-t", "set", "-d", "4096"] + common,
        ["-t", "get"] + common,
        ["-t", "lpush,lpop,sadd,hset,zadd", "-d", "256"] + common,
        ["-t", "set", "-d", "512"] + common,
    ]



def _succeeded(record, ops, seconds, cpu, mem, extra):
    """Fills a server run's record once the load, the flush and the idle watch went well."""
    steady, freed, idle_end, series = mem
    record.update({"ok": True, "ops": ops, "seconds": round(seconds, 4),
                   "ops_per_s": ops / seconds if seconds else 0, "cpu_seconds": cpu,
                   "ops_per_cpu_s": ops / cpu if cpu else None, "idle": series,
                   "mem": {"steady": steady, "freed": freed, "idle_end": idle_end}, "extra": extra})


def _stop(server, tmp, record):
    """Whatever happened: the server is gone, its usage recorded, its files removed."""
    if server.status is None:
        server.kill()
        server.reap(10)
        if "wall_s" not in record:
            record.update(server.usage())
    shutil.rmtree(tmp, ignore_errors=True)


def run_redis(allocator, base_env, quick, idle_s, shim_lib, timeout, scale=1.0):
    server_bin, bench_bin = shutil.which("redis-server"), shutil.which("redis-benchmark")
    if not server_bin or not bench_bin:
        return {"ok": False, "error": "redis-server or redis-benchmark not installed"}
    preload = None
    if allocator.lib is None:
        if not shim_lib or not os.path.exists(shim_lib):
            return {"ok": False, "error": f"glibc shim {shim_lib} not built"}
        preload = shim_lib
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="tabench-redis-")
    argv = [server_bin, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", tmp, "--logfile", os.path.join(tmp, "redis.log"), "--daemonize", "no",
            "--protected-mode", "yes"]
    server = proc.Child(argv, allocator.environ(base_env, preload), stdout=subprocess.DEVNULL)
    record = {"ok": False}
    try:
        _wait_port(port, server)
        per_test, seconds, ops = {}, 0.0, 0
        deadline = time.monotonic() + timeout
        cpu0 = procmem.cpu_seconds(server.pid)
        for phase in redis_phases(quick, scale):
            out = subprocess.run([bench_bin, "-h", "127.0.0.1", "-p", str(port), "--csv"] + phase,
                                 capture_output=True, text=True,
                                 timeout=max(5, deadline - time.monotonic()))
            if out.returncode != 0:
                raise RuntimeError("redis-benchmark failed: " + out.stderr.strip()[-400:])
            n = int(phase[phase.index("-n") + 1])
            for line in out.stdout.splitlines():
                cells = [c.strip('"') for c in line.split(",")]
                if len(cells) < 2 or cells[0] == "test":
                    continue
                rps = float(cells[1])
                name = cells[0] + ("" if "-d" not in phase else f" {phase[phase.index('-d') + 1]}B")
                per_test[name] = rps
                seconds += n / rps
                ops += n
        cpu = procmem.cpu_seconds(server.pid) - cpu0
        steady = procmem.sample(server.pid)
        record["dbsize"] = _resp(port, "DBSIZE")
        info = _resp(port, "INFO", "memory") or ""
        record["redis_info"] = {k: v for k, v in (l.split(":", 1) for l in info.splitlines() if ":" in l)
                                if k in ("used_memory", "mem_allocator", "allocator_allocated",
                                         "allocator_resident", "used_memory_rss")}
        t = time.monotonic()
        _resp(port, "FLUSHALL", "SYNC")
        record["flush_s"] = round(time.monotonic() - t, 4)
        freed = procmem.sample(server.pid)
        series, idle_end = _idle_watch(server.pid, idle_s, 0.1 if quick else 0.25)
        try:
            _resp(port, "SHUTDOWN", "NOSAVE", timeout=10)
        except (OSError, RuntimeError):
            pass  # the server closes the connection as it exits
        code = server.reap(30)
        record.update(server.usage())
        if code != 0:
            raise RuntimeError(f"redis-server exited with {code}")
        _succeeded(record, ops, seconds, cpu, (steady, freed, idle_end, series),
                   {"rps": per_test, "idle_s": idle_s})
    except (RuntimeError, OSError, subprocess.SubprocessError, ValueError) as e:
        record["error"] = str(e)
    finally:
        _stop(server, tmp, record)
    return record


# ---- memcached ----

MEMCASLAP_CONFIG = """key
16 64 1
value
32 512 0.6
512 4096 0.3
4096 65536 0.1
cmd
0 0.5
1 0.5
"""


def _memcached_cmd(port, line, timeout=60):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(line.encode() + b"\r\n")
        return s.recv(4096).decode(errors="replace").strip()


def run_memcached(allocator, base_env, quick, idle_s, timeout, scale=1.0):
    server_bin = shutil.which("memcached")
    client_bin = shutil.which("memcaslap") or shutil.which("memaslap")
    if not server_bin or not client_bin:
        return {"ok": False, "error": "memcached or memcaslap (libmemcached-tools) not installed"}
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="tabench-memcached-")
    cfg = os.path.join(tmp, "load.cfg")
    with open(cfg, "w") as f:
        f.write(MEMCASLAP_CONFIG)
    argv = [server_bin, "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-t", "2", "-m", "4096", "-c", "1024"]
    if os.geteuid() == 0:
        argv += ["-u", "nobody"]  # memcached refuses to run as root
    server = proc.Child(argv, allocator.environ(base_env), stdout=subprocess.DEVNULL)
    ops = max(1000, int((40000 if quick else 300000) * scale))
    record = {"ok": False}
    try:
        _wait_port(port, server)
        cpu0 = procmem.cpu_seconds(server.pid)
        out = subprocess.run([client_bin, "-s", f"127.0.0.1:{port}", "-T", "2", "-c", "32", "-x", str(ops),
                              "-F", cfg], capture_output=True, text=True, timeout=timeout)
        tps = re.search(r"Ops: (\d+) TPS: (\d+)", out.stdout)
        if out.returncode != 0 or not tps:
            raise RuntimeError("memcaslap failed: " + (out.stdout + out.stderr).strip()[-400:])
        # memcaslap's own clock covers the load only, not its start-up (key and value generation).
        ops = int(tps.group(1))
        seconds = ops / int(tps.group(2))
        cpu = procmem.cpu_seconds(server.pid) - cpu0
        stats = {}
        for line in out.stdout.splitlines():
            k, sep, v = line.partition(":")
            if sep and k.strip() in ("cmd_get", "cmd_set", "get_misses", "object_bytes"):
                stats[k.strip()] = int(v.strip())
        steady = procmem.sample(server.pid)
        t = time.monotonic()
        reply = _memcached_cmd(port, "flush_all")
        if reply != "OK":
            raise RuntimeError("flush_all answered " + reply)
        flush_s = time.monotonic() - t
        freed = procmem.sample(server.pid)
        series, idle_end = _idle_watch(server.pid, idle_s, 0.1 if quick else 0.25)
        server.kill(signal.SIGTERM)
        code = server.reap(30)
        record.update(server.usage())
        if code not in (0, -signal.SIGTERM):
            raise RuntimeError(f"memcached exited with {code}")
        record["flush_s"] = round(flush_s, 4)
        _succeeded(record, ops, seconds, cpu, (steady, freed, idle_end, series), dict(stats, idle_s=idle_s))
    except (RuntimeError, OSError, subprocess.SubprocessError, ValueError) as e:
        record["error"] = str(e)
    finally:
        _stop(server, tmp, record)
    return record


SERVERS = {
    "redis": "redis-server 7 driven by redis-benchmark (-P 16): SET of 3 sizes, GET, lists/sets/hashes/zsets; FLUSHALL; idle",
    "memcached": "memcached 1.6 driven by memcaslap: 50% set / 50% get, values 32 B-64 KiB; flush_all; idle",
}
