# STROP_SANITIZE: ASan + UBSan for the whole build. STROP_FUZZ (clang only): coverage
# instrumentation for libFuzzer everywhere, so fuzz targets link against instrumented libraries.
if(STROP_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
# STROP_TSAN (clang only): ThreadSanitizer, for the concurrency tests in their own tree
# (cmake/Tsan.cmake, build/tsan). It cannot be combined with ASan.
if(STROP_TSAN)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "STROP_TSAN needs clang (scripts/test.sh uses clang++-14)")
  endif()
  if(STROP_SANITIZE OR STROP_FUZZ)
    message(FATAL_ERROR "STROP_TSAN excludes STROP_SANITIZE and STROP_FUZZ (one tree each)")
  endif()
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()
if(STROP_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "STROP_FUZZ needs clang (scripts/build.sh test uses clang++-14)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

# strop_fuzzer(NAME name SOURCES src... LIBS lib... SEEDS dir... [SECONDS n])
# Builds a libFuzzer target (only when STROP_FUZZ) and registers a bounded ctest run of it:
# new inputs go to a scratch directory in the build tree, seeds are only read.
function(strop_fuzzer)
  cmake_parse_arguments(F "" "NAME;SECONDS" "SOURCES;LIBS;SEEDS" ${ARGN})
  if(NOT STROP_FUZZ)
    return()
  endif()
  if(NOT F_SECONDS)
    set(F_SECONDS 60)
  endif()
  add_executable(${F_NAME} ${F_SOURCES})
  target_link_libraries(${F_NAME} PRIVATE ${F_LIBS})
  target_link_options(${F_NAME} PRIVATE -fsanitize=fuzzer)
  set(scratch ${CMAKE_CURRENT_BINARY_DIR}/${F_NAME}.corpus)
  add_test(NAME fuzz.${F_NAME}
           COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
                   $<TARGET_FILE:${F_NAME}> -max_total_time=${F_SECONDS} -rss_limit_mb=2048
                   -timeout=10 -max_len=262144 -print_final_stats=1 ${scratch} ${F_SEEDS})
  set_tests_properties(fuzz.${F_NAME} PROPERTIES LABELS fuzz TIMEOUT 600)
  file(MAKE_DIRECTORY ${scratch})
endfunction()
