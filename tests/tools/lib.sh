# Shared by the tools tests (sourced, bash): temp folder, processes and /dev/shm files removed by
# an EXIT trap, and `expect_run` to check a command's status and output.
set -u
TEST_NAME=$(basename "$0" .sh)
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ta-tools-$TEST_NAME.XXXXXX")
CLEANUP_PIDS=""
CLEANUP_FILES=""
cleanup() {
  for pid in $CLEANUP_PIDS; do kill -9 "$pid" 2>/dev/null; done
  for f in $CLEANUP_FILES; do rm -f "$f"; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "FAIL [$TEST_NAME]: $*" >&2
  exit 1
}
note() { echo "[$TEST_NAME] $*"; }
skip() {
  echo "SKIP [$TEST_NAME]: $*"
  exit 77
}

# expect_run STATUS WHAT CMD...: runs CMD (bounded to 60 s) with stdout in $WORK/out and stderr
# in $WORK/err, and fails unless it exits with STATUS.
expect_run() {
  local want=$1 what=$2 st
  shift 2
  timeout 60 "$@" >"$WORK/out" 2>"$WORK/err"
  st=$?
  if [ "$st" != "$want" ]; then
    echo "--- stdout:" >&2; head -30 "$WORK/out" >&2
    echo "--- stderr:" >&2; head -30 "$WORK/err" >&2
    fail "$what: exit status $st, expected $want ($*)"
  fi
}

# expect_in FILE PATTERN WHAT: FILE has a line matching the extended regex PATTERN.
expect_in() {
  grep -qE -- "$2" "$1" || { echo "--- $1:" >&2; head -30 "$1" >&2; fail "$3: no line matches /$2/"; }
}

expect_empty() { [ ! -s "$1" ] || { head -20 "$1" >&2; fail "$2: expected no output"; }; }

# wait_for SECONDS CMD...: polls CMD until it succeeds.
wait_for() {
  local deadline=$(($(date +%s) + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# "${AS_NOBODY[@]}" CMD...: runs CMD as the unprivileged user nobody (root only).
AS_NOBODY=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)

# public_copy FILE: a copy of FILE that any user can execute (the build tree may not be).
public_copy() {
  local d="$WORK/public"
  mkdir -p "$d" && chmod 755 "$WORK" "$d" && cp "$1" "$d/" && chmod 755 "$d/$(basename "$1")" &&
    echo "$d/$(basename "$1")"
}
