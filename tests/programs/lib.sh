# Shared by the real-program tests (sourced, bash). Each test runs a real program twice on the same
# input, once on its own allocator (glibc, or redis's jemalloc) and once with the library under test
# preloaded, and fails on a crash, a timeout or any difference in the deterministic output.
# Usage of a test: <test>.sh [LIBRARY]; an empty LIBRARY compares glibc with itself, which checks
# the test. Every step runs under `timeout`, temp files and servers are removed by an EXIT trap.

. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
LIB=${1:-}
if [ -n "$LIB" ]; then
  [ -f "$LIB" ] || fail "no such library: $LIB"
  LIB=$(readlink -f "$LIB")
fi

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
