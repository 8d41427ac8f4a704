# Web UI (tspsd/web): the browser suite in headless Debian chromium driven by
# playwright-core (tests/web), against a real tspsd with its SIP front and
# sipp as the caller. Screenshots land in <build>/web-artifacts/.
# Skips loudly (77) when chromium, node, npm or sipp is missing.
find_program(TSPS_WEB_SIPP sipp)
if(NOT TSPS_WEB_SIPP)
  set(TSPS_WEB_SIPP /usr/bin/sipp)
endif()
add_test(NAME web_browser
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/web/run.sh
          $<TARGET_FILE:tspsd> $<TARGET_FILE:tspsctl> ${TSPS_WEB_SIPP}
          ${CMAKE_CURRENT_SOURCE_DIR}/sip/scenarios
          ${CMAKE_BINARY_DIR}/web-artifacts)
# RUN_SERIAL: the pop-up latency check wants the machine to itself.
set_tests_properties(web_browser PROPERTIES TIMEOUT 300 LABELS "web"
  SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)
# Related e-mails and documents in the pop-up (tests/web/related_web.mjs):
# a real Dovecot (tests/related/dovecot.sh), a documents folder, a mail
# port that never answers; its own artifacts folder (its own npm copy).
add_test(NAME web_related
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/web/run.sh
          $<TARGET_FILE:tspsd> $<TARGET_FILE:tspsctl> ${TSPS_WEB_SIPP}
          ${CMAKE_CURRENT_SOURCE_DIR}/sip/scenarios
          ${CMAKE_BINARY_DIR}/web-artifacts-related)
set_tests_properties(web_related PROPERTIES TIMEOUT 300 LABELS "web"
  SKIP_RETURN_CODE 77 RUN_SERIAL TRUE ENVIRONMENT "TSPS_WEB_SUITE=related")

# The C parts without a browser: JSON <-> protocol, passwords, cookies,
# sessions and CSRF over a real engine store.
tsps_add_check(check_web SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/web/check_web.c
  LIBS tspsd_web)
target_include_directories(check_web PRIVATE ${PROJECT_SOURCE_DIR}/tspsd)
