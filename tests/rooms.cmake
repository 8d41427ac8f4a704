# tspsd's rooms (docs/architecture.md): no room includes one it may not, and
# no circle of includes crosses the rooms.
find_program(TSPS_ROOMS_PYTHON3 NAMES python3)
if(TSPS_ROOMS_PYTHON3)
  add_test(NAME tspsd_rooms
    COMMAND ${TSPS_ROOMS_PYTHON3} ${PROJECT_SOURCE_DIR}/scripts/check_rooms.py
            ${PROJECT_SOURCE_DIR})
  set_tests_properties(tspsd_rooms PROPERTIES TIMEOUT 60 LABELS "rooms")
endif()

# The table of tspsd.conf keys (tspsd/settings.c) is the one source of the
# key list: docs/config-keys.md must be what `tspsd --help-config=markdown`
# prints (regenerate it with that command after changing the table).
if(TARGET tspsd)
  add_test(NAME tspsd_config_keys_doc
    COMMAND sh -c "\"$1\" --help-config=markdown | diff -u \"$2\" -" sh
            $<TARGET_FILE:tspsd> ${PROJECT_SOURCE_DIR}/docs/config-keys.md)
  set_tests_properties(tspsd_config_keys_doc PROPERTIES TIMEOUT 60
    LABELS "rooms")
endif()

# The same rules on the rooms' static libraries: a call across rooms with a
# hand-copied declaration (no include) shows up as a needed symbol.
if(TSPS_ROOMS_PYTHON3 AND TARGET tspsd AND TARGET tspsctl_client)
  add_test(NAME tspsd_rooms_link
    COMMAND ${TSPS_ROOMS_PYTHON3} ${PROJECT_SOURCE_DIR}/scripts/check_rooms.py
            ${PROJECT_SOURCE_DIR}
            --lib base=$<TARGET_FILE:tspsd_net>
            --lib core=$<TARGET_FILE:tspsd_core>
            --lib control=$<TARGET_FILE:tspsd_ctl>
            --lib web=$<TARGET_FILE:tspsd_web>
            --lib sip=$<TARGET_FILE:tspsd_sip>
            --lib cluster=$<TARGET_FILE:tspsd_cluster>
            --lib cli=$<TARGET_FILE:tspsctl_client>)
  set_tests_properties(tspsd_rooms_link PROPERTIES TIMEOUT 60 LABELS "rooms")
endif()
