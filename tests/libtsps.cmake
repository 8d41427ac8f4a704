# libtsps: the engine suites.
foreach(_s route rules store method history crash abi cache umem)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/unit/check_${_s}.c)
    tsps_add_check(check_${_s} SOURCES unit/check_${_s}.c LIBS tsps_static)
  endif()
endforeach()
foreach(_t check_store check_rules)
  if(TARGET ${_t})
    target_link_libraries(${_t} PRIVATE lmdb)
  endif()
endforeach()
# The route suite again with the contact index read from LMDB, not from the
# table in memory (the path of read-only engines).
if(TARGET check_route)
  add_test(NAME check_route_store_index COMMAND check_route)
  set_tests_properties(check_route_store_index PROPERTIES
    ENVIRONMENT "CK_FORK=yes;CK_DEFAULT_TIMEOUT=60;TSPS_TEST_NO_CONTACT_CACHE=1")
endif()

# examples/embed routes as documented in README.
if(TARGET tsps_embed)
  add_test(NAME embed_example COMMAND tsps_embed "+49 89 111111" anonymous
           "030 2222222")
  set_tests_properties(embed_example PROPERTIES PASS_REGULAR_EXPRESSION
    "\"code\":\"VIP\".*\n.*\"caller_kind\":\"withheld\".*\n.*\"code\":\"FAMILY\"")
endif()
# The installed package works for integrators (CMake package and tsps.pc).
add_test(NAME install_embed COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/install_embed.sh
         ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR})
set_tests_properties(install_embed PROPERTIES TIMEOUT 300 LABELS noasan)
