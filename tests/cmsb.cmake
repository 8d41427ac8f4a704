# libcmsbridge suites: conformance (every adapter), the vCard corpus, sync
# into the engine (routing by each code form, events, bad input, resume),
# and the out-of-tree example adapter built against an installed tree.
if(TARGET cmsb_static)
  set(_cmsb_int ${PROJECT_SOURCE_DIR}/libcmsbridge/adapters/vcard)

  tsps_add_check(check_cmsb_conformance
    SOURCES unit/check_cmsb_conformance.c
            ${PROJECT_SOURCE_DIR}/examples/adapter/csv_adapter.c
    LIBS cmsb_static)
  target_include_directories(check_cmsb_conformance PRIVATE
    ${PROJECT_SOURCE_DIR}/examples/adapter)

  tsps_add_check(check_cmsb_corpus SOURCES unit/check_cmsb_corpus.c
    LIBS cmsb_static)
  target_include_directories(check_cmsb_corpus PRIVATE ${_cmsb_int})

  tsps_add_check(check_cmsb_sync SOURCES unit/check_cmsb_sync.c
    LIBS cmsb_static)
  target_include_directories(check_cmsb_sync PRIVATE ${_cmsb_int})

  tsps_add_check(check_cmsb_ical SOURCES unit/check_cmsb_ical.c
    LIBS cmsb_static)
  target_include_directories(check_cmsb_ical PRIVATE ${_cmsb_int})

  tsps_add_check(check_cmsb_write SOURCES unit/check_cmsb_write.c
    LIBS cmsb_static)
  target_include_directories(check_cmsb_write PRIVATE ${_cmsb_int})

  # the version-3 slot x_create_contact ("add to contacts")
  tsps_add_check(check_create_api SOURCES unit/check_create_api.c
    LIBS cmsb_static)
  if(TARGET cmsb_dav_internal)
    target_compile_definitions(check_create_api PRIVATE
      CMSB_WITH_CARDDAV_TEST)
  endif()

  # Install to a temp prefix, build examples/adapter against it with only
  # pkg-config, run it on its sample CSV.
  add_test(NAME cmsb_example_adapter
    COMMAND ${CMAKE_COMMAND}
      -DBUILD_DIR=${PROJECT_BINARY_DIR}
      -DSRC_DIR=${PROJECT_SOURCE_DIR}/examples/adapter
      -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/cmsb_example
      -DCMAKE_BIN=${CMAKE_COMMAND}
      -P ${PROJECT_SOURCE_DIR}/examples/adapter/run_example.cmake)
  # noasan: the installed libraries of a sanitizer build need the ASan
  # runtime, which the plain example build does not link.
  set_tests_properties(cmsb_example_adapter PROPERTIES TIMEOUT 300
    LABELS "noasan")
endif()
