# SIP front (tspsd/sip): a library of its sources for the harness and the
# fuzz target, the harness program, and the sipp/raw-socket suite.
pkg_check_modules(SIPT_OSIP REQUIRED IMPORTED_TARGET libosip2)
pkg_check_modules(SIPT_EVENT REQUIRED IMPORTED_TARGET libevent)
pkg_check_modules(SIPT_CRYPTO REQUIRED IMPORTED_TARGET libcrypto)

file(GLOB _tsps_sip_sources CONFIGURE_DEPENDS
  ${PROJECT_SOURCE_DIR}/tspsd/sip/*.c)
add_library(tsps_sipfront_test STATIC ${_tsps_sip_sources})
target_include_directories(tsps_sipfront_test PUBLIC
  ${PROJECT_SOURCE_DIR}/tspsd/sip)
target_compile_definitions(tsps_sipfront_test PRIVATE _GNU_SOURCE)
target_link_libraries(tsps_sipfront_test PUBLIC tsps_static
  PkgConfig::SIPT_OSIP PkgConfig::SIPT_EVENT PkgConfig::SIPT_CRYPTO
  Threads::Threads)
tsps_target_defaults(tsps_sipfront_test)

add_executable(sip_harness ${CMAKE_CURRENT_SOURCE_DIR}/sip/sip_harness.c)
target_compile_definitions(sip_harness PRIVATE _GNU_SOURCE)
target_link_libraries(sip_harness PRIVATE tsps_sipfront_test)
tsps_target_defaults(sip_harness)

find_program(TSPS_SIPP sipp)
find_program(TSPS_PYTHON3 NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(TSPS_SIPP AND TSPS_PYTHON3)
  add_test(NAME sip_sipp
    COMMAND ${TSPS_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/sip/run_sip_tests.py
            --harness $<TARGET_FILE:sip_harness>
            --scenarios ${CMAKE_CURRENT_SOURCE_DIR}/sip
            --sipp ${TSPS_SIPP})
  set_tests_properties(sip_sipp PROPERTIES TIMEOUT 300 LABELS "sip")
  add_test(NAME sip_hardening
    COMMAND ${TSPS_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/sip/run_sip_hardening.py
            --harness $<TARGET_FILE:sip_harness>
            --scenarios ${CMAKE_CURRENT_SOURCE_DIR}/sip
            --sipp ${TSPS_SIPP})
  set_tests_properties(sip_hardening PROPERTIES TIMEOUT 300 LABELS "sip")
else()
  message(STATUS "sipp or python3 not found: SIP tests skipped")
endif()
