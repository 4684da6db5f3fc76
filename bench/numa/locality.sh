#!/bin/sh
# Runs inside the guest: the locality benchmark once per allocator and round, rotated.
# Usage: locality.sh BINARY TIERALLOC_SO ROUNDS
bin=$1; ta=$2; rounds=${3:-3}
ma=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
libs="tieralloc=$ta glibc= jemalloc=/usr/lib/$ma/libjemalloc.so.2 tcmalloc=/usr/lib/$ma/libtcmalloc_minimal.so.4 mimalloc=/usr/lib/$ma/libmimalloc.so.2"
r=0
while [ $r -lt "$rounds" ]; do
  for kv in $libs; do
    name=${kv%%=*}; lib=${kv#*=}
    if [ -n "$lib" ]; then LD_PRELOAD=$lib "$bin" "$name"; else "$bin" "$name"; fi
  done
  libs="$(echo $libs | cut -d' ' -f2-) $(echo $libs | cut -d' ' -f1)"  # rotate
  r=$((r + 1))
done
