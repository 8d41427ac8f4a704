# libtsps: the engine suites.
foreach(_s route store method history crash)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/unit/check_${_s}.c)
    tsps_add_check(check_${_s} SOURCES unit/check_${_s}.c LIBS tsps_static)
  endif()
endforeach()
if(TARGET check_store)
  target_link_libraries(check_store PRIVATE lmdb)
endif()
