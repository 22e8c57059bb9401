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
