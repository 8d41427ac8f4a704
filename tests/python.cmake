# Python bindings (bindings/python): the package is built into
# <build>/bindings/python/lib against this build's libtsps/libcmsb (setup.py
# with TSPS_BUILD_DIR, protoc generating tsps_pb2.py), then pytest suites run
# it: engine round trips, a Python adapter synced and routed, bad arguments,
# the control client against a real tspsd (TLS, token, certificates, an
# attendant, events while a sipp call is held), and `pip install`.
# Always /usr/bin/python3: it sees Debian's python3-cffi/-protobuf/-pytest (a
# pyenv python3 on PATH may not). Suites skip loudly (77) when one is missing.
set(TSPS_PY3 /usr/bin/python3)
if(NOT EXISTS ${TSPS_PY3})
  message(STATUS "python: /usr/bin/python3 missing: Python binding tests skipped")
  return()
endif()
find_program(TSPS_PY_PROTOC protoc)
find_program(TSPS_PY_SIPP sipp)
find_program(TSPS_PY_OPENSSL openssl)
set(_py_src ${PROJECT_SOURCE_DIR}/bindings/python)
set(_py_out ${CMAKE_BINARY_DIR}/bindings/python)
file(GLOB _py_deps CONFIGURE_DEPENDS ${_py_src}/tsps/*.py ${_py_src}/setup.py
  ${_py_src}/pyproject.toml ${PROJECT_SOURCE_DIR}/proto/tsps.proto
  ${PROJECT_SOURCE_DIR}/libtsps/include/tsps/*.h
  ${PROJECT_SOURCE_DIR}/libcmsbridge/include/cmsb/*.h)
execute_process(COMMAND ${TSPS_PY3} -c "import cffi, setuptools"
  RESULT_VARIABLE _py_have_cffi OUTPUT_QUIET ERROR_QUIET)
if(_py_have_cffi EQUAL 0 AND TSPS_PY_PROTOC)
  add_custom_command(OUTPUT ${_py_out}/stamp
    COMMAND ${CMAKE_COMMAND} -E env TSPS_BUILD_DIR=${CMAKE_BINARY_DIR}
            PROTOC=${TSPS_PY_PROTOC}
            ${TSPS_PY3} setup.py -q build --build-base ${_py_out}/build
            build_ext --force --build-lib ${_py_out}/lib
            build_py --build-lib ${_py_out}/lib
    COMMAND ${CMAKE_COMMAND} -E touch ${_py_out}/stamp
    WORKING_DIRECTORY ${_py_src}
    DEPENDS ${_py_deps} tsps cmsb
    COMMENT "Building the Python package tsps (cffi + protoc)")
  add_custom_target(tsps_python ALL DEPENDS ${_py_out}/stamp)
else()
  message(STATUS "python: python3-cffi or protoc missing: the Python package "
                 "is not built and its suites skip (scripts/deps.sh test)")
endif()

# Under ASan the libraries need the ASan runtime loaded first: preload it
# into the interpreter (leak checks off: CPython keeps memory to exit).
set(_py_env PYTHONPATH=${_py_out}/lib PYTHONDONTWRITEBYTECODE=1
  TSPS_SOURCE_DIR=${PROJECT_SOURCE_DIR} TSPS_BUILD_DIR=${CMAKE_BINARY_DIR}
  TSPS_PY_BUILT=${_py_out}/stamp)
if(TSPS_SANITIZE MATCHES "address")
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libasan.so
    OUTPUT_VARIABLE _py_asan OUTPUT_STRIP_TRAILING_WHITESPACE)
  list(APPEND _py_env LD_PRELOAD=${_py_asan}
    "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1"
    "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1" TSPS_PY_ASAN=1)
endif()
if(TARGET tspsd)
  list(APPEND _py_env TSPS_TSPSD=$<TARGET_FILE:tspsd>)
endif()
if(TSPS_PY_SIPP)
  list(APPEND _py_env TSPS_SIPP=${TSPS_PY_SIPP})
endif()
if(TSPS_PY_PROTOC)
  list(APPEND _py_env PROTOC=${TSPS_PY_PROTOC})
endif()

foreach(_suite engine adapter badinput control packaging)
  if(NOT EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/python/test_${_suite}.py)
    continue()
  endif()
  add_test(NAME python_${_suite}
    COMMAND ${TSPS_PY3} ${CMAKE_CURRENT_SOURCE_DIR}/python/run.py
            ${CMAKE_CURRENT_SOURCE_DIR}/python/test_${_suite}.py)
  set_tests_properties(python_${_suite} PROPERTIES TIMEOUT 300
    LABELS "python" SKIP_RETURN_CODE 77 ENVIRONMENT "${_py_env}")
endforeach()
