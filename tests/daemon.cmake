# tspsd integration tests: each starts a real tspsd on a free loopback port
# with certificates made by the test, in a temp dir, and drives it with the
# control protocol and with tspsctl.
if(TARGET tspsd AND TARGET tspsctl)
  set(_d ${CMAKE_CURRENT_SOURCE_DIR}/daemon)
  foreach(_t authz config contact_create daemon hardening history related
      sip_calls store sync)
    tsps_add_check(check_tspsd_${_t}
      SOURCES ${_d}/check_tspsd_${_t}.c ${_d}/harness.c ${_d}/fixture.c
              ${_d}/th_web.c
      LIBS tspsctl_client TIMEOUT 600)
    target_include_directories(check_tspsd_${_t} PRIVATE ${_d})
    target_compile_options(check_tspsd_${_t} PRIVATE
      $<$<C_COMPILER_ID:GNU>:-Wno-format-truncation>)
    target_compile_definitions(check_tspsd_${_t} PRIVATE
      TSPSD_BIN="$<TARGET_FILE:tspsd>" TSPSCTL_BIN="$<TARGET_FILE:tspsctl>"
      TSPS_DOCS_DIR="${PROJECT_SOURCE_DIR}/docs")
    add_dependencies(check_tspsd_${_t} tspsd tspsctl)
  endforeach()
  # The kill -9 test reads the dead daemon's store itself.
  target_link_libraries(check_tspsd_sip_calls PRIVATE tsps_static)
  # The history suite writes its calls into the store before tspsd starts.
  target_link_libraries(check_tspsd_history PRIVATE tsps_static)
  # Unit suites of the daemon's pure parts.
  tsps_add_check(check_tspsd_units
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/check_tspsd_units.c
    LIBS tspsd_core)
endif()
