# tspsd shuts down valgrind-clean (no leaks, no memory errors).
find_program(TSPS_VALGRIND valgrind)
if(TSPS_VALGRIND AND TARGET tspsd AND TARGET tspsctl AND NOT TSPS_SANITIZE)
  add_test(NAME tspsd_valgrind_shutdown
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/valgrind_shutdown.sh
            $<TARGET_FILE:tspsd> $<TARGET_FILE:tspsctl>)
  set_tests_properties(tspsd_valgrind_shutdown PROPERTIES TIMEOUT 240
    SKIP_RETURN_CODE 77 LABELS "noasan;valgrind")
endif()
