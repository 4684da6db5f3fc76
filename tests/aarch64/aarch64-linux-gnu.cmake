# CMake toolchain file: cross-compile for AArch64 Linux on a Debian 12 x86_64 host.
# Packages: tests/deps/aarch64.txt (host) and tests/aarch64/packages-arm64.txt (multiarch),
# installed by tests/aarch64/setup: the cross gcc, arm64 -dev libs via multiarch
# (libhwloc-dev:arm64 libnuma-dev:arm64 libgtest-dev:arm64 pkg-config:arm64), qemu-user.
# Use: cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=tests/aarch64/aarch64-linux-gnu.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER   aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)   # Debian multiarch triplet

# Debian cross gcc already searches /usr/include/aarch64-linux-gnu, /usr/include and
# /usr/lib/aarch64-linux-gnu. Let CMake's find_* look at the host prefix (/usr) too, so the
# multiarch dirs (/usr/lib/aarch64-linux-gnu, .../cmake/GTest) are found; programs stay host ones.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

# pkg-config: the arm64 personality wrapper from pkg-config:arm64 only looks in
# /usr/lib/aarch64-linux-gnu/pkgconfig and /usr/share/pkgconfig.
find_program(AARCH64_PKG_CONFIG aarch64-linux-gnu-pkg-config)
if(AARCH64_PKG_CONFIG)
  set(PKG_CONFIG_EXECUTABLE ${AARCH64_PKG_CONFIG} CACHE FILEPATH "pkg-config for aarch64")
else()
  set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
endif()

# ctest / add_test / gtest_discover_tests run target binaries under qemu-user through
# tests/aarch64/run-tests, which also tells the test which CPU it emulates. Pick the CPU with
# -DAARCH64_PROFILE=n1|v1|n2|v2|a72|a64fx|generic, or pass a whole emulator with
# -DCMAKE_CROSSCOMPILING_EMULATOR=... (kept as given).
set(AARCH64_PROFILE "n1" CACHE STRING "tests/aarch64/run-tests profile used by ctest")
if(NOT CMAKE_CROSSCOMPILING_EMULATOR)
  set(CMAKE_CROSSCOMPILING_EMULATOR sh;${CMAKE_CURRENT_LIST_DIR}/run-tests;-p;${AARCH64_PROFILE};--
      CACHE STRING "")
endif()
