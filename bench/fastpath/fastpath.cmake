# The fast-path instruction-count check (bench/fastpath/count): registers the ctest test
# `fastpath_golden` comparing libtieralloc.so's malloc and free hit paths with the checked-in
# golden of this architecture. Included from tests/aarch64/CMakeLists.txt, so it runs in every
# build with tests, including builds without bench/.
# The goldens are for the default build (RelWithDebInfo, no sanitizer); other builds compile a
# different fast path and skip the check. A golden made by another compiler version is reported
# as skipped (exit 77), not as a failure.
set(ta_fastpath_arch "")
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  set(ta_fastpath_arch x86_64)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
  set(ta_fastpath_arch aarch64)
endif()
find_package(Python3 COMPONENTS Interpreter)
if(ta_fastpath_arch AND Python3_FOUND AND CMAKE_OBJDUMP AND TARGET tieralloc
   AND CMAKE_BUILD_TYPE STREQUAL "RelWithDebInfo" AND NOT TIERALLOC_SANITIZE)
  set(ta_fastpath_cmd ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/count
      --lib $<TARGET_FILE:tieralloc> --arch ${ta_fastpath_arch} --objdump ${CMAKE_OBJDUMP}
      --compiler "${CMAKE_C_COMPILER_ID} ${CMAKE_C_COMPILER_VERSION}")
  add_test(NAME fastpath_golden COMMAND ${ta_fastpath_cmd})
  set_tests_properties(fastpath_golden PROPERTIES LABELS unit SKIP_RETURN_CODE 77)
  # `cmake --build <dir> --target fastpath-update` rewrites the golden after an intended change.
  add_custom_target(fastpath-update COMMAND ${ta_fastpath_cmd} --update DEPENDS tieralloc VERBATIM)
endif()
