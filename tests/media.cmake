# Media front (tspsd/media): the test host program and the suite that drives
# it with real SIP/RTP peers (sipp, baresip) and checks recordings with sox.
if(TARGET tspsd_media)
  pkg_check_modules(MEDIAT_CRYPTO REQUIRED IMPORTED_TARGET libcrypto)
  add_executable(media_host ${CMAKE_CURRENT_SOURCE_DIR}/media/media_host.c)
  target_compile_definitions(media_host PRIVATE _GNU_SOURCE)
  target_link_libraries(media_host PRIVATE tspsd_media PkgConfig::MEDIAT_CRYPTO)
  tsps_target_defaults(media_host)

  tsps_add_check(check_media SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/media/check_media.c
    LIBS tspsd_media)
  tsps_add_check(check_ivr SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/media/check_ivr.c
    LIBS tspsd_media)

  find_program(TSPS_MEDIA_SIPP sipp)
  find_program(TSPS_MEDIA_SOX sox)
  find_program(TSPS_MEDIA_ESPEAK espeak-ng)
  find_program(TSPS_MEDIA_PY NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
  if(TSPS_MEDIA_SIPP AND TSPS_MEDIA_SOX AND TSPS_MEDIA_ESPEAK AND TSPS_MEDIA_PY)
    add_test(NAME media_voicemail
      COMMAND ${TSPS_MEDIA_PY} ${CMAKE_CURRENT_SOURCE_DIR}/media/run_media_tests.py
              --host $<TARGET_FILE:media_host>
              --scenarios ${CMAKE_CURRENT_SOURCE_DIR}/media/scenarios)
    set_tests_properties(media_voicemail PROPERTIES TIMEOUT 300 LABELS "media")
    # The same front inside tspsd ([media] enabled): tspsd's own host.
    if(TARGET tspsd)
      add_test(NAME tspsd_media
        COMMAND ${TSPS_MEDIA_PY} ${CMAKE_CURRENT_SOURCE_DIR}/media/run_tspsd_media.py
                --tspsd $<TARGET_FILE:tspsd>
                --tspsctl $<TARGET_FILE:tspsctl>
                --scenarios ${CMAKE_CURRENT_SOURCE_DIR}/media/scenarios)
      set_tests_properties(tspsd_media PROPERTIES TIMEOUT 300 LABELS "media")
      # A user's IVR edited with tspsctl and reached through the SIP front.
      add_test(NAME tspsd_ivr
        COMMAND ${TSPS_MEDIA_PY} ${CMAKE_CURRENT_SOURCE_DIR}/media/run_tspsd_ivr.py
                --tspsd $<TARGET_FILE:tspsd> --tspsctl $<TARGET_FILE:tspsctl>
                --scenarios ${CMAKE_CURRENT_SOURCE_DIR}/media/scenarios)
      set_tests_properties(tspsd_ivr PROPERTIES TIMEOUT 300 LABELS "media")
    endif()
  else()
    message(STATUS "sipp/sox/espeak-ng not found: media tests skipped")
  endif()
endif()
