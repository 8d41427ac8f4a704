# tspsd's rooms (docs/architecture.md): no room includes one it may not, and
# no circle of includes crosses the rooms.
find_program(TSPS_ROOMS_PYTHON3 NAMES python3)
if(TSPS_ROOMS_PYTHON3)
  add_test(NAME tspsd_rooms
    COMMAND ${TSPS_ROOMS_PYTHON3} ${PROJECT_SOURCE_DIR}/scripts/check_rooms.py
            ${PROJECT_SOURCE_DIR})
  set_tests_properties(tspsd_rooms PROPERTIES TIMEOUT 60 LABELS "rooms")
endif()
