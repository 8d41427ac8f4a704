# CardDAV/CalDAV adapters: the multistatus parser and state (no server),
# and the adapters against a real Radicale started by tests/dav/radicale.sh
# (exit 77 = skipped when Radicale is missing; scripts/deps.sh test
# installs it, so CI runs it).
if(TARGET cmsb_dav_internal)
  tsps_add_check(check_dav_xml SOURCES unit/check_dav_xml.c
    LIBS cmsb_dav_internal)

  # quirks Radicale does not show (Google, iCloud, 507), from a scripted stub
  tsps_add_check(check_dav_quirks SOURCES unit/check_dav_quirks.c
    LIBS cmsb_static)
  set_tests_properties(check_dav_quirks PROPERTIES SKIP_RETURN_CODE 77)

  tsps_add_check(check_dav SOURCES unit/check_dav.c
    LIBS cmsb_static PkgConfig::CMSB_CURL TIMEOUT 600)
  target_include_directories(check_dav PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/dav)
  set_tests_properties(check_dav PROPERTIES SKIP_RETURN_CODE 77
    RUN_SERIAL TRUE)

  # group cards (Apple, vCard 4) across resources, on Radicale
  tsps_add_check(check_dav_groups SOURCES unit/check_dav_groups.c
    LIBS cmsb_static PkgConfig::CMSB_CURL TIMEOUT 600)
  target_include_directories(check_dav_groups PRIVATE
    ${CMAKE_CURRENT_SOURCE_DIR}/dav)
  set_tests_properties(check_dav_groups PROPERTIES SKIP_RETURN_CODE 77
    RUN_SERIAL TRUE)
endif()

# The shared adapter conformance suite, built again with the carddav: and
# caldav: fixtures (tests/dav/dav_conformance.h) on a Radicale without auth.
if(TARGET cmsb_dav_internal AND EXISTS ${PROJECT_SOURCE_DIR}/examples/adapter/csv_adapter.c)
  tsps_add_check(check_dav_conformance
    SOURCES unit/check_cmsb_conformance.c
            ${PROJECT_SOURCE_DIR}/examples/adapter/csv_adapter.c
    LIBS cmsb_dav_internal PkgConfig::CMSB_CURL TIMEOUT 600)
  target_include_directories(check_dav_conformance PRIVATE
    ${PROJECT_SOURCE_DIR}/examples/adapter ${CMAKE_CURRENT_SOURCE_DIR}/dav)
  target_compile_definitions(check_dav_conformance PRIVATE
    CMSB_CONFORMANCE_EXTRA="dav_conformance.h")
  set_tests_properties(check_dav_conformance PROPERTIES SKIP_RETURN_CODE 77
    RUN_SERIAL TRUE)
endif()

# The same conformance checks on every DAV server users run: Radicale,
# Xandikos (behind Basic auth) and sabre/dav 1.8 (listing mode), each
# started per test by tests/dav/dav_server.sh (exit 77 = that server is
# not installed; scripts/deps.sh test installs all three).
if(TARGET cmsb_dav_internal)
  tsps_add_check(check_dav_servers SOURCES unit/check_dav_servers.c
    LIBS cmsb_static PkgConfig::CMSB_CURL TIMEOUT 900)
  target_include_directories(check_dav_servers PRIVATE
    ${CMAKE_CURRENT_SOURCE_DIR}/dav)
  # the target's own test runs Radicale; one more per other server
  set_tests_properties(check_dav_servers PROPERTIES SKIP_RETURN_CODE 77
    RUN_SERIAL TRUE ENVIRONMENT "CK_FORK=yes;CK_DEFAULT_TIMEOUT=120;DAV_SERVER=radicale")
  # The same C paths run on Radicale (the listing ones with #nosync):
  # under ASan (scripts/test.sh: -LE noasan) only the Radicale run, to
  # keep CI short.
  foreach(_srv xandikos sabre)
    add_test(NAME check_dav_servers_${_srv} COMMAND check_dav_servers)
    set_tests_properties(check_dav_servers_${_srv} PROPERTIES TIMEOUT 900
      SKIP_RETURN_CODE 77 RUN_SERIAL TRUE LABELS noasan
      ENVIRONMENT "CK_FORK=yes;CK_DEFAULT_TIMEOUT=120;DAV_SERVER=${_srv}")
  endforeach()
endif()

# Real clients on the same server: khard + vdirsyncer create, edit and
# delete cards that tsps then routes by; Radicale here (and under ASan),
# Xandikos and sabre/dav as noasan runs (exit 77 without the clients).
if(TARGET cmsb_dav_internal)
  tsps_add_check(check_dav_clients SOURCES unit/check_dav_clients.c
    LIBS cmsb_static PkgConfig::CMSB_CURL TIMEOUT 600)
  target_include_directories(check_dav_clients PRIVATE
    ${CMAKE_CURRENT_SOURCE_DIR}/dav)
  set_tests_properties(check_dav_clients PROPERTIES SKIP_RETURN_CODE 77
    RUN_SERIAL TRUE ENVIRONMENT "CK_FORK=yes;DAV_SERVER=radicale")
  foreach(_srv xandikos sabre)
    add_test(NAME check_dav_clients_${_srv} COMMAND check_dav_clients)
    set_tests_properties(check_dav_clients_${_srv} PROPERTIES TIMEOUT 600
      SKIP_RETURN_CODE 77 RUN_SERIAL TRUE LABELS noasan
      ENVIRONMENT "CK_FORK=yes;DAV_SERVER=${_srv}")
  endforeach()
endif()
