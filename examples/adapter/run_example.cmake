# CTest driver (tests/cmsb.cmake): install the project to a temp prefix,
# build this example against it with pkg-config only, run it.
# -DBUILD_DIR= -DSRC_DIR= -DWORK_DIR= -DCMAKE_BIN=
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

execute_process(COMMAND ${CMAKE_BIN} --install ${BUILD_DIR}
  --prefix ${WORK_DIR}/prefix RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "install failed: ${rc}")
endif()
file(GLOB_RECURSE _pcs ${WORK_DIR}/prefix/*/cmsb.pc)
if(NOT _pcs)
  message(FATAL_ERROR "cmsb.pc not installed")
endif()
list(GET _pcs 0 _pc)
get_filename_component(_pcdir ${_pc} DIRECTORY)
set(ENV{PKG_CONFIG_PATH} ${_pcdir})

execute_process(COMMAND ${CMAKE_BIN} -S ${SRC_DIR} -B ${WORK_DIR}/build
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configure of the example failed")
endif()
execute_process(COMMAND ${CMAKE_BIN} --build ${WORK_DIR}/build
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "build of the example failed")
endif()

configure_file(${SRC_DIR}/phones.csv ${WORK_DIR}/phones.csv COPYONLY)
file(MAKE_DIRECTORY ${WORK_DIR}/store)
execute_process(COMMAND ${WORK_DIR}/build/csv_sync ${WORK_DIR}/phones.csv
  ${WORK_DIR}/store RESULT_VARIABLE rc OUTPUT_VARIABLE out
  ERROR_VARIABLE err)
message("${out}${err}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "csv_sync failed: ${rc}")
endif()
foreach(_want "registered scheme=csv" "contacts_put=3"
    "uid=c1 name=\"Anna Schmidt\" number=+49301234567 code=VIP"
    "line=5 reason=")
  string(FIND "${out}${err}" "${_want}" _at)
  if(_at EQUAL -1)
    message(FATAL_ERROR "missing in output: ${_want}")
  endif()
endforeach()
