"""The C workloads (bench/workloads/*.c): how to run one and turn its RESULT line into a record."""
import json

from . import proc

# name -> one line for tables; the paragraph about what each stands for is at the top of its .c file.
PROGRAMS = {
    "sizeclass": "malloc/free pairs and batches by size class, one thread",
    "larson": "Larson server simulation: random replace, threads hand their objects to new threads",
    "xmalloc": "producer/consumer: one thread allocates, another frees",
    "cache": "cache server: zipfian GET/SET/DEL, size mix, TTL expiry, lazy frees, then flush + idle",
    "frag": "fragmentation: fill small, free 90% at random, refill with larger objects",
    "realloc": "growing buffers by realloc (exact and doubling), shrink to fit",
    "large": "large allocations 64 KiB-4/32 MiB, every page touched, window of 8",
    "buffers": "per-query buffers (64 KiB-1 MiB) and small allocations, 2 threads, first pages touched",
}


def run(binary, mode_args, allocator, base_env, timeout):
    """Runs one workload under one allocator; returns a record (ok=False with an error on failure)."""
    child = proc.Child([binary] + mode_args, allocator.environ(base_env))
    code = child.reap(timeout)
    record = {"ok": False}
    record.update(child.usage())
    if code != 0:
        record["error"] = f"exit {code}: {child.stderr.strip()[-500:]}"
        return record
    line = next((l for l in child.stdout.splitlines() if l.startswith("RESULT ")), None)
    if line is None:
        record["error"] = "no RESULT line"
        return record
    result = json.loads(line[len("RESULT "):])
    record["ok"] = True
    record["ops"] = result.pop("ops")
    record["seconds"] = result.pop("seconds")
    record["ops_per_s"] = result.pop("ops_per_s")
    record["cpu_seconds"] = result.pop("cpu_seconds", None)
    record["ops_per_cpu_s"] = result.pop("ops_per_cpu_s", None)
    record["idle"] = result.pop("idle", None)
    mem = {}
    for key in list(result):
        if isinstance(result[key], dict) and "rss_kb" in result[key]:
            mem[key] = result.pop(key)
    record["mem"] = mem
    record["extra"] = result
    return record
