#!/bin/sh
# Runs inside the multi-node guest: a process with libtieralloc.so preloaded starts on the
# sysfs snapshot and, once its background thread runs, swaps in the hwloc-refined one
# (libtieralloc-hwloc.so beside the library), off the start-up path: topology.source goes
# from "sysfs" to "hwloc+sysfs". Without the background thread nothing is refined.
lib=$1
check='
import ctypes, sys, time
ta = ctypes.CDLL(None)
def source():
    v = ctypes.c_char_p(); n = ctypes.c_size_t(ctypes.sizeof(v))
    rc = ta.tieralloc_ctl(b"topology.source", ctypes.byref(v), ctypes.byref(n), None, ctypes.c_size_t(0))
    assert rc == 0, rc
    return v.value.decode()
want = sys.argv[1]
deadline = time.time() + 60
while source() != want and time.time() < deadline: time.sleep(0.1)
print("topology.source: %s (want %s)" % (source(), want))
sys.exit(0 if source() == want else 1)
'
TIERALLOC_CONF=background_thread:false LD_PRELOAD=$lib /usr/bin/python3 -c "$check" sysfs || exit 1
TIERALLOC_CONF=stats_live:100 LD_PRELOAD=$lib /usr/bin/python3 -c "$check" hwloc+sysfs || exit 1
