#!/bin/sh
# tests/numa/damon_guest.sh BINARY: runs the DAMON guest test (damon_guest_test.cc), then checks
# that the kdamond tieralloc added went away with the process (its exit-time destructor turns
# it off and sets nr_kdamonds back to 0), so the next DAMON user finds the interface as it was.
"$1" || exit $?
nr=/sys/kernel/mm/damon/admin/kdamonds/nr_kdamonds
[ -e $nr ] || exit 0   # no DAMON: the test skipped, loudly
n=$(cat $nr)
echo "after the test process exited: nr_kdamonds $n" >&2
[ "$n" = 0 ] || { echo "FAILED: the kdamond tieralloc added is still there" >&2; exit 1; }
