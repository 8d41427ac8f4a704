# Related items (issue 11): the version-2 vtable slot, and the maildir,
# imap (against a real Dovecot, tests/related/dovecot.sh; exit 77 = skipped
# when Dovecot is missing, CI installs it) and docs-dir adapters.
if(TARGET cmsb_static)
  tsps_add_check(check_related_api SOURCES unit/check_related_api.c
    LIBS cmsb_static)
  if(CMSB_WITH_MAILDIR AND CMSB_WITH_IMAP AND CMSB_WITH_DOCS)
    target_compile_definitions(check_related_api PRIVATE REL_ALL_BUILTINS)
  endif()
endif()
# Per-code criteria and the result cache (libcmsbridge, no adapter needed).
if(TARGET cmsb_static)
  tsps_add_check(check_related_policy SOURCES unit/check_related_policy.c
    LIBS cmsb_static)
  tsps_add_check(check_related_cache SOURCES unit/check_related_cache.c
    LIBS cmsb_static Threads::Threads)
endif()
# check_abi (tests/libtsps.cmake) also pins libcmsbridge's vtable and
# related-item structs when libcmsbridge is built.
if(TARGET check_abi AND TARGET cmsb_static)
  target_link_libraries(check_abi PRIVATE cmsb_static)
  target_compile_definitions(check_abi PRIVATE TSPS_ABI_CMSB)
endif()
if(TARGET cmsb_related_internal)
  set(_rel_tests ${CMAKE_CURRENT_SOURCE_DIR}/related)
  if(CMSB_WITH_MAILDIR)
    tsps_add_check(check_related_maildir SOURCES unit/check_related_maildir.c
      LIBS cmsb_static)
    target_include_directories(check_related_maildir PRIVATE ${_rel_tests})
  endif()
  if(CMSB_WITH_IMAP)
    tsps_add_check(check_related_imap SOURCES unit/check_related_imap.c
      LIBS cmsb_static PkgConfig::CMSB_CURL TIMEOUT 600)
    target_include_directories(check_related_imap PRIVATE ${_rel_tests})
    set_tests_properties(check_related_imap PROPERTIES SKIP_RETURN_CODE 77)
  endif()
  if(CMSB_WITH_DOCS)
    pkg_check_modules(REL_CAIRO REQUIRED IMPORTED_TARGET cairo)
    tsps_add_check(check_related_docs SOURCES unit/check_related_docs.c
      LIBS cmsb_related_internal PkgConfig::REL_CAIRO)
    target_include_directories(check_related_docs PRIVATE ${_rel_tests})
    set_tests_properties(check_related_docs PROPERTIES ENVIRONMENT
      "CK_FORK=yes;CK_DEFAULT_TIMEOUT=60;LSAN_OPTIONS=suppressions=${_rel_tests}/lsan.supp")
  endif()
  # docs-dav against a real Apache httpd + mod_dav (tests/related/
  # apache_dav.sh; exit 77 = skipped when apache2 is missing, CI installs it)
  if(CMSB_WITH_DOCS AND CMSB_WITH_CARDDAV)
    tsps_add_check(check_related_dav_docs SOURCES unit/check_related_dav_docs.c
      LIBS cmsb_related_internal PkgConfig::REL_CAIRO TIMEOUT 600)
    target_include_directories(check_related_dav_docs PRIVATE ${_rel_tests})
    set_tests_properties(check_related_dav_docs PROPERTIES SKIP_RETURN_CODE 77
      ENVIRONMENT "CK_FORK=yes;LSAN_OPTIONS=suppressions=${_rel_tests}/lsan.supp")
  endif()
endif()
