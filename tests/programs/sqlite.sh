#!/bin/bash
# sqlite3 executes the same generated script (about 250k statements: inserts, indexes, updates,
# deletes, joins, group by, blobs of many sizes) on an in-memory database, so the page cache and
# every row live in malloc'ed memory; the query results must match the reference run's.
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
SQLITE=/usr/bin/sqlite3
[ -x "$SQLITE" ] || fail "$SQLITE missing (Debian package sqlite3)"
require_preloadable "$SQLITE"

timeout 60 "$PY" "$HERE/gen_sql.py" 250000 >"$WORK/script.sql" || fail "generating SQL failed"
note "script: $(wc -l <"$WORK/script.sql") lines, $(wc -c <"$WORK/script.sql") bytes"

run() {  # run LIBRARY OUTPUT
  with_lib "$1" timeout 90 "$SQLITE" -bail :memory: <"$WORK/script.sql" >"$2" 2>"$2.err"
  local st=$?
  [ -s "$2.err" ] && head -5 "$2.err" >&2
  check_status "sqlite3 on $(label "$1")" $st
}
run "" "$WORK/ref.txt"
run "$LIB" "$WORK/out.txt"
grep -qx ok "$WORK/ref.txt" || fail "reference run's integrity_check did not print ok"
compare "$WORK/ref.txt" "$WORK/out.txt" "sqlite3 query results"
