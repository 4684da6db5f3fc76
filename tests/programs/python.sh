#!/bin/bash
# Debian's python3 runs alloc_heavy.py on the reference allocator and with the library under test
# preloaded; both must print the same lines. PYTHONMALLOC=malloc sends every object to malloc:
# otherwise pymalloc serves objects up to 512 bytes from its own mmap'ed arenas and the allocator
# under test would only see the large ones.
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
[ -x "$PY" ] || fail "$PY missing (Debian package python3)"
require_preloadable "$PY"

run() {  # run LIBRARY OUTPUT
  timeout 60 env -i PATH=/usr/bin:/bin PYTHONMALLOC=malloc PYTHONHASHSEED=0 \
    ${1:+LD_PRELOAD=$1} "$PY" -S "$HERE/alloc_heavy.py" >"$2" 2>"$2.err"
  st=$?
  check_status "python3 on $(label "$1")" $st
}
run "" "$WORK/ref.txt"
run "$LIB" "$WORK/out.txt"
compare "$WORK/ref.txt" "$WORK/out.txt" "python output"
