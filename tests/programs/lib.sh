# Shared by the real-program tests (sourced, bash). Each test runs a real program twice on the same
# input, once on its own allocator (glibc, or redis's jemalloc) and once with the library under test
# preloaded, and fails on a crash, a timeout or any difference in the deterministic output.
# Usage of a test: <test>.sh [LIBRARY]; an empty LIBRARY compares glibc with itself, which checks
# the test. Every step runs under `timeout`, temp files and servers are removed by an EXIT trap.

set -u
LIB=${1:-}
TEST_NAME=$(basename "$0" .sh)
PY=/usr/bin/python3   # Debian's: dynamically linked, so it honours LD_PRELOAD (pyenv shims may not)

fail() {
  echo "FAIL [$TEST_NAME]: $*" >&2
  exit 1
}
note() { echo "[$TEST_NAME] $*"; }

if [ -n "$LIB" ]; then
  [ -f "$LIB" ] || fail "no such library: $LIB"
  LIB=$(readlink -f "$LIB")
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ta-$TEST_NAME.XXXXXX")
CLEANUP_PIDS=""
cleanup() {
  for pid in $CLEANUP_PIDS; do
    kill -9 "$pid" 2>/dev/null
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# with_lib LIBRARY CMD...: runs CMD with LIBRARY preloaded (plain when empty).
with_lib() {
  local lib=$1
  shift
  if [ -n "$lib" ]; then
    LD_PRELOAD=$lib "$@"
  else
    "$@"
  fi
}

# label LIBRARY: how a run is named in messages.
label() { if [ -n "$1" ]; then basename "$1"; else echo "reference"; fi; }

# require_preloadable BINARY: the dynamic loader really maps LIB into BINARY (it is dynamically
# linked and not setuid); otherwise the test would silently test the reference allocator twice.
require_preloadable() {
  [ -n "$LIB" ] || return 0
  LD_TRACE_LOADED_OBJECTS=1 LD_PRELOAD=$LIB "$1" </dev/null 2>/dev/null | grep -qF "$LIB" ||
    fail "$1 does not load $LIB under LD_PRELOAD"
}

# require_mapped PID: a running server has LIB mapped.
require_mapped() {
  [ -n "$LIB" ] || return 0
  grep -qF "$LIB" "/proc/$1/maps" || fail "pid $1 does not have $LIB mapped"
}

# check_status WHAT STATUS: fails on a signal death (>128), a timeout (124) or another error.
# Save $? in a variable first: a $(...) in WHAT would reset $? before it is read.
check_status() {
  local what=$1 st=$2
  [ "$st" -eq 0 ] && return 0
  [ "$st" -eq 124 ] && fail "$what timed out"
  [ "$st" -gt 128 ] && fail "$what died of signal $((st - 128))"
  fail "$what exited with status $st"
}

# free_port: a TCP port on 127.0.0.1 nobody listens on right now.
free_port() {
  $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for SECONDS CMD...: polls CMD until it succeeds.
wait_for() {
  local deadline=$(($(date +%s) + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# wait_exit PID SECONDS: waits for a child to exit; returns its status, or 124 after SECONDS.
wait_exit() {
  local pid=$1 deadline=$(($(date +%s) + $2))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      kill -9 "$pid" 2>/dev/null
      wait "$pid" 2>/dev/null
      return 124
    fi
    # A zombie child still answers kill -0; reap it once it is no longer running.
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
    sleep 0.1
  done
  wait "$pid"
}

# compare REF OUT WHAT: the two runs produced the same deterministic output.
compare() {
  local ref=$1 out=$2 what=$3
  if [ -n "${TA_PROGRAMS_KEEP:-}" ]; then  # a folder to keep both outputs in, for debugging
    mkdir -p "$TA_PROGRAMS_KEEP" && cp "$ref" "$TA_PROGRAMS_KEEP/$TEST_NAME.ref" &&
      cp "$out" "$TA_PROGRAMS_KEEP/$TEST_NAME.out"
  fi
  [ -s "$ref" ] || fail "reference run produced no $what"
  if ! cmp -s "$ref" "$out"; then
    diff "$ref" "$out" | head -20 >&2
    fail "$what differs between the reference run and $(label "$LIB")"
  fi
  note "$what identical: $(wc -l <"$ref") lines, sha256 $(sha256sum <"$ref" | cut -c1-16)"
}
