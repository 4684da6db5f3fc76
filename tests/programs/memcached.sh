#!/bin/bash
# Debian's memcached, started on 127.0.0.1 by this test (4 worker threads, 4 MiB item limit),
# checked by mc_client.py, which stores values of 1 B to 3 MiB and reads every one back, and
# exercises append/prepend, counters, replace and delete (first, while the cache has room for
# multi-MiB items), then loaded by memaslap (libmemcached-tools: mixed get/set, values of 1 B to
# 200 KB, 20% of the gets verified against what was set). The
# client's transcript must match the reference run's; the server must survive and exit on SIGTERM.
# A last run gives memcached under the library too little memory for the client's values (-m 24),
# so it evicts: the client stores evicted values again and its transcript must still match.
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
SERVER=/usr/bin/memcached
SLAP=/usr/bin/memcaslap
[ -x "$SERVER" ] || fail "$SERVER missing (Debian package memcached)"
[ -x "$SLAP" ] || fail "$SLAP missing (Debian package libmemcached-tools)"
require_preloadable "$SERVER"

cat >"$WORK/slap.cfg" <<'CFG'
key
16 64 1
value
1 200 0.6
200 8000 0.3
8000 200000 0.1
cmd
0 0.4
1 0.6
CFG
USER_OPT=""
[ "$(id -u)" = 0 ] && USER_OPT="-u nobody"  # memcached refuses to run as root

scenario() {  # scenario LIBRARY TRANSCRIPT [MEMORY_MB]: with MEMORY_MB, the client alone
  local lib=$1 out=$2 mem=${3:-256} port pid st
  port=$(free_port)
  env ${lib:+LD_PRELOAD=$lib} "$SERVER" $USER_OPT -l 127.0.0.1 -p "$port" -U 0 -m "$mem" -t 4 \
    -I 4m >"$WORK/memcached.$port.log" 2>&1 &
  pid=$!
  CLEANUP_PIDS="$CLEANUP_PIDS $pid"
  wait_for 15 "$PY" -c "import socket; socket.create_connection(('127.0.0.1', $port), timeout=1)" ||
    fail "memcached on $(label "$lib") did not listen: $(cat "$WORK/memcached.$port.log")"
  [ -n "$lib" ] && require_mapped "$pid"

  timeout 90 "$PY" "$HERE/mc_client.py" "$port" >"$out" 2>"$WORK/mc_client.err"
  st=$?
  cat "$WORK/mc_client.err" >&2
  check_status "mc_client.py on $(label "$lib") with -m $mem" $st
  if [ -n "${3:-}" ]; then
    grep -q "stored again" "$WORK/mc_client.err" ||
      fail "memcached -m $mem did not evict: the client's eviction path was not exercised"
    note "$(label "$lib"), -m $mem: $(cat "$WORK/mc_client.err")"
  else
    timeout 90 "$SLAP" -s "127.0.0.1:$port" -T 2 -c 16 -x 60000 -F "$WORK/slap.cfg" \
      --verify=0.2 >"$WORK/slap.txt" 2>&1
    st=$?
    check_status "memaslap on $(label "$lib")" $st
    grep -q "^verify_failed: 0$" "$WORK/slap.txt" ||
      fail "memaslap found wrong values on $(label "$lib"): $(grep -E 'verify|cmd_' "$WORK/slap.txt" | tr '\n' ' ')"
    note "$(label "$lib"): memaslap $(grep -E '^(cmd_get|cmd_set|verify_failed):' "$WORK/slap.txt" | tr '\n' ' ')"
  fi

  kill -0 "$pid" 2>/dev/null || fail "memcached on $(label "$lib") died"

  kill -TERM "$pid"
  wait_exit "$pid" 20
  st=$?
  check_status "memcached shutdown on $(label "$lib")" $st
}

scenario "" "$WORK/ref.txt"
scenario "$LIB" "$WORK/out.txt"
compare "$WORK/ref.txt" "$WORK/out.txt" "memcached client transcript"
scenario "$LIB" "$WORK/evicting.txt" 24
compare "$WORK/ref.txt" "$WORK/evicting.txt" "memcached client transcript with evictions"
