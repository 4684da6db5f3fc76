#!/bin/bash
# g++ (cc1plus, as and ld all inherit LD_PRELOAD) compiles and links cxx_sample.cc, a template-
# and STL-heavy program, once on the reference allocator and once on the library under test. The
# object files and executables must be byte-identical (the compiler's output must not depend on
# its allocator), and the two programs, each run on the allocator that built it, must print the
# same lines.
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
GXX=/usr/bin/g++
[ -x "$GXX" ] || fail "$GXX missing (Debian package g++)"
CC1PLUS=$("$GXX" -print-prog-name=cc1plus)
require_preloadable "$(readlink -f "$GXX")"
require_preloadable "$CC1PLUS"

cp "$HERE/cxx_sample.cc" "$WORK/sample.cc"  # same path in both builds, so debug info matches
build() {  # build LIBRARY NAME
  local lib=$1 st
  (cd "$WORK" && timeout 120 env ${lib:+LD_PRELOAD=$lib} "$GXX" -std=c++17 -O2 -g \
    -frandom-seed=tieralloc -c sample.cc -o "$2.o") 2>"$WORK/$2.err"
  st=$?
  [ -s "$WORK/$2.err" ] && head -5 "$WORK/$2.err" >&2
  check_status "g++ -c on $(label "$lib")" $st
  (cd "$WORK" && timeout 60 env ${lib:+LD_PRELOAD=$lib} "$GXX" "$2.o" -o "$2") 2>"$WORK/$2.err"
  st=$?
  check_status "g++ link on $(label "$lib")" $st
  timeout 30 env ${lib:+LD_PRELOAD=$lib} "$WORK/$2" >"$WORK/$2.txt"
  st=$?
  check_status "sample program built and run on $(label "$lib")" $st
}
build "" ref
build "$LIB" out
cmp "$WORK/ref.o" "$WORK/out.o" || fail "object files differ: compiler output depends on the allocator"
cmp "$WORK/ref" "$WORK/out" || fail "executables differ: linker output depends on the allocator"
note "object files identical ($(wc -c <"$WORK/ref.o") bytes), executables identical"
compare "$WORK/ref.txt" "$WORK/out.txt" "sample program output"
