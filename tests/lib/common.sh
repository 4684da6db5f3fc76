# Shared by the shell tests (sourced, bash): the test's name, failing and noting, a temp folder
# and the processes and files removed with it by an EXIT trap, and waiting for processes and
# ports. The area's own lib.sh sources this first and adds what only its tests need.
set -u
TEST_NAME=$(basename "$0" .sh)
PY=/usr/bin/python3   # Debian's: dynamically linked, so it honours LD_PRELOAD (pyenv shims may not)

fail() {
  echo "FAIL [$TEST_NAME]: $*" >&2
  exit 1
}
note() { echo "[$TEST_NAME] $*"; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ta-${TA_WORK_PREFIX:-}$TEST_NAME.XXXXXX")
CLEANUP_PIDS=""
CLEANUP_FILES=""
cleanup() {
  for pid in $CLEANUP_PIDS; do kill -9 "$pid" 2>/dev/null; done
  for f in $CLEANUP_FILES; do rm -f "$f"; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

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
