# Shared by the tools tests (sourced, bash): temp folder, processes and /dev/shm files removed by
# an EXIT trap, and `expect_run` to check a command's status and output.
TA_WORK_PREFIX=tools-
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

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

# "${AS_NOBODY[@]}" CMD...: runs CMD as the unprivileged user nobody (root only).
AS_NOBODY=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)

# public_copy FILE: a copy of FILE that any user can execute (the build tree may not be).
public_copy() {
  local d="$WORK/public"
  mkdir -p "$d" && chmod 755 "$WORK" "$d" && cp "$1" "$d/" && chmod 755 "$d/$(basename "$1")" &&
    echo "$d/$(basename "$1")"
}
