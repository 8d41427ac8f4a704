# Number normalisation: Check suite and the differential test against
# libphonenumber (test-only dependency; the test is skipped without it).
tsps_add_check(check_normalize SOURCES unit/check_normalize.c LIBS tsps_static)
# white-box checks of the region table (libtsps/src/regions.h)
target_include_directories(check_normalize PRIVATE
  ${PROJECT_SOURCE_DIR}/libtsps/src)

find_path(TSPS_PHONENUMBER_INCLUDE_DIR phonenumbers/phonenumberutil.h)
find_library(TSPS_PHONENUMBER_LIBRARY phonenumber)
if(TSPS_PHONENUMBER_INCLUDE_DIR AND TSPS_PHONENUMBER_LIBRARY)
  add_executable(diff_phonenumber phonenumber/diff_phonenumber.cc)
  target_include_directories(diff_phonenumber PRIVATE
    ${TSPS_PHONENUMBER_INCLUDE_DIR})
  target_link_libraries(diff_phonenumber PRIVATE tsps_static
    ${TSPS_PHONENUMBER_LIBRARY})
  set_target_properties(diff_phonenumber PROPERTIES CXX_STANDARD 17)
  tsps_target_defaults(diff_phonenumber)
  # 5,000 numbers over 26 regions and 17 forms, fixed seed. Fails when
  # disagreements outside the accepted classes of docs/normalisation.md
  # exceed 0.2%, less than one (region, form) cell (measured: 0 over
  # 120,000 numbers, 6 seeds).
  add_test(NAME diff_phonenumber COMMAND diff_phonenumber --count 5000
    --seed 20261125 --max-unexpected-pct 0.2)
  set_tests_properties(diff_phonenumber PROPERTIES TIMEOUT 120)
else()
  message(STATUS "libphonenumber not found: diff_phonenumber test skipped")
endif()
