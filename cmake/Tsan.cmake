# ThreadSanitizer run of the concurrency tests (STROP_TSAN; scripts/test.sh builds build/tsan).
#
# Each strop_tsan_test() makes one small gtest executable, tsan_NAME, from a few test sources
# of an existing test target (FROM), with that target's include directories, libraries and
# definitions, and registers one ctest test, tsan.NAME, labelled `tsan`. Building only the
# tsan_* targets keeps the tree small: the libraries they link plus a handful of test files.
# Sources that do not exist (renamed by a refactoring) are skipped; a set left empty is
# skipped with a message.

# strop_tsan_test(NAME FROM target SOURCES path-or-glob... [FILTER gtest-filter])
function(strop_tsan_test name)
  cmake_parse_arguments(T "" "FROM;FILTER" "SOURCES" ${ARGN})
  if(NOT TARGET ${T_FROM})
    message(STATUS "tsan.${name}: no target ${T_FROM}; skipped")
    return()
  endif()
  set(srcs)
  foreach(pattern ${T_SOURCES})
    file(GLOB found CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/${pattern})
    list(APPEND srcs ${found})
  endforeach()
  list(REMOVE_DUPLICATES srcs)
  if(NOT srcs)
    message(STATUS "tsan.${name}: no sources; skipped")
    return()
  endif()
  add_executable(tsan_${name} ${srcs})
  foreach(prop INCLUDE_DIRECTORIES LINK_LIBRARIES COMPILE_DEFINITIONS COMPILE_OPTIONS)
    get_target_property(value ${T_FROM} ${prop})
    if(value)
      set_property(TARGET tsan_${name} PROPERTY ${prop} ${value})
    endif()
  endforeach()
  set(args)
  if(T_FILTER)
    set(args --gtest_filter=${T_FILTER})
  endif()
  add_test(NAME tsan.${name} COMMAND tsan_${name} ${args})
  # halt_on_error: the first race fails the test. second_deadlock_stack: both stacks of a
  # lock-order inversion.
  set_tests_properties(tsan.${name} PROPERTIES LABELS tsan TIMEOUT 900 ENVIRONMENT
                       "TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:history_size=4")
  set_property(GLOBAL APPEND PROPERTY STROP_TSAN_TARGETS tsan_${name})
endfunction()

if(STROP_TSAN)
  # The writer queue, the read path's transaction pool and weight cache, expiry.
  # (Not the tests that fork a second process: TSan cannot start threads after a fork.)
  strop_tsan_test(storage FROM storage_test
                  SOURCES storage/src/store_test.cpp storage/src/memory_index_test.cpp
                          storage/src/store_admin_test.cpp
                  FILTER -StoreTest.AdminProcess*:StoreTest.OnlyOneProcessServesADirectory:StoreTest.ServerRecoversFromAnAdminExpiry:StoreAdminTest.AdminProcess*)
  # Connection pools, the resolver thread, the verdict cache, UDP exchanges.
  strop_tsan_test(agent FROM agent_test
                  SOURCES agent/src/client_test.cpp agent/src/http_transport_test.cpp
                          agent/src/udp_transport_test.cpp agent/src/ttl_cache_test.cpp)
  # The milter's pipeline against fake node/clamd/spamd servers on their own threads.
  strop_tsan_test(milter FROM milter_test
                  SOURCES agent/milter/src/pipeline_test.cpp agent/milter/src/clamd_test.cpp
                          agent/milter/src/spamc_test.cpp agent/milter/src/buffer_test.cpp
                          agent/milter/src/metrics_test.cpp)
  # The node's server, listeners, limiter and connection guard.
  strop_tsan_test(node FROM node_test
                  SOURCES node/src/conn_guard_test.cpp node/src/limiter_test.cpp
                          node/src/server*_test.cpp node/src/listener*_test.cpp)
  get_property(targets GLOBAL PROPERTY STROP_TSAN_TARGETS)
  add_custom_target(tsan_tests DEPENDS ${targets})
endif()
