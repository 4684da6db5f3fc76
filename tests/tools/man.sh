#!/bin/bash
# The man pages: each renders without a single groff or man warning, is installed by CMake, and
# stays true to what it documents: every option of a tool's --help appears in its page, and
# every TIERALLOC_CONF option of src/conf/conf.def in tieralloc(3).
# Usage: man.sh DOCS-MAN-DIR BUILD-DIR
. "$(dirname "$0")/lib.sh"
MAN=$1
BUILD=$2
SRC=$(cd "$MAN/../.." && pwd)
command -v man >/dev/null || fail "man is missing (Debian man-db)"
command -v groff >/dev/null || fail "groff is missing (Debian groff)"
PAGES="tieralloc.3 tieralloc-run.1 tieralloc-stat.1 tieralloc-topology.1"

for p in $PAGES; do
  [ -f "$MAN/$p" ] || fail "no page $MAN/$p"
  MANWIDTH=80 man --warnings -l "$MAN/$p" 2>"$WORK/warn" >"$WORK/page" || fail "man -l $p failed: $(cat "$WORK/warn")"
  [ -s "$WORK/warn" ] && { cat "$WORK/warn" >&2; fail "$p renders with warnings"; }
  groff -ww -man -z "$MAN/$p" 2>"$WORK/warn"
  [ -s "$WORK/warn" ] && { cat "$WORK/warn" >&2; fail "groff -ww warns on $p"; }
  [ "$(wc -l <"$WORK/page")" -gt 20 ] || fail "$p renders to almost nothing"
  note "$p: $(wc -l <"$WORK/page") lines at 80 columns, no warnings"
done

# Each tool's options, as its --help lists them, are in its page.
for tool in tieralloc-run tieralloc-stat tieralloc-topology; do
  bin="$BUILD/src/tools/$tool"
  [ -x "$bin" ] || fail "no $bin"
  "$bin" --help >"$WORK/help" || fail "$tool --help failed"
  for opt in $(grep -oE -- '(^|[ [])--?[a-z][a-z-]*' "$WORK/help" | tr -d ' [' | sort -u); do
    case $opt in -h|--help) continue ;; esac
    esc=$(printf '%s' "$opt" | sed 's/-/\\\\-/g')
    grep -qE -- "$esc|B $opt\b" "$MAN/$tool.1" || fail "$tool's option $opt is not in $tool.1"
  done
done

# Every TIERALLOC_CONF option is in tieralloc(3).
for o in $(sed -nE 's/^TA_CONF_[A-Z]+\(([a-z_0-9]+),.*/\1/p' "$SRC/src/conf/conf.def"); do
  grep -qE "^\.BR $o " "$MAN/tieralloc.3" || fail "option $o of conf.def is not described in tieralloc.3"
done

# Installed where man finds them.
if [ -f "$BUILD/cmake_install.cmake" ]; then
  cmake --install "$BUILD" --prefix "$WORK/prefix" >"$WORK/install.log" 2>&1 || { tail "$WORK/install.log"; fail "cmake --install"; }
  for p in $PAGES; do
    sec=${p##*.}
    f=$(find "$WORK/prefix" -path "*/man$sec/$p" | head -1)
    [ -n "$f" ] || fail "$p is not installed under man$sec"
  done
  MANPATH=$(dirname "$(dirname "$f")") man -w tieralloc-stat >/dev/null 2>&1 || fail "man does not find the installed tieralloc-stat(1)"
fi
note "ok"
