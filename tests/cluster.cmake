# tspsd nodes sharing configuration through etcd (docs/cluster.md): real
# etcd and real tspsd processes on free loopback ports.
find_program(TSPS_ETCD_BIN etcd)
if(TARGET tspsd AND TARGET tspsctl AND TSPS_ETCD_BIN)
  set(_c ${CMAKE_CURRENT_SOURCE_DIR}/cluster)
  set(_d ${CMAKE_CURRENT_SOURCE_DIR}/daemon)
  add_executable(check_cluster_etcd ${_c}/check_cluster_etcd.c
    ${_c}/th_etcd.c ${_d}/harness.c ${_d}/th_web.c)
  target_include_directories(check_cluster_etcd PRIVATE
    ${CMAKE_CURRENT_SOURCE_DIR}/unit ${_d} ${_c})
  target_compile_definitions(check_cluster_etcd PRIVATE _GNU_SOURCE
    TSPS_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    TSPSD_BIN="$<TARGET_FILE:tspsd>" TSPSCTL_BIN="$<TARGET_FILE:tspsctl>"
    ETCD_BIN="${TSPS_ETCD_BIN}")
  target_link_libraries(check_cluster_etcd PRIVATE tspsctl_client
    tspsd_cluster PkgConfig::CHECK Threads::Threads)
  tsps_target_defaults(check_cluster_etcd)
  target_compile_options(check_cluster_etcd PRIVATE
    $<$<C_COMPILER_ID:GNU>:-Wno-format-truncation>)
  add_dependencies(check_cluster_etcd tspsd tspsctl)
  add_test(NAME cluster_etcd COMMAND check_cluster_etcd)
  set_tests_properties(cluster_etcd PROPERTIES TIMEOUT 120 LABELS "cluster"
    ENVIRONMENT "CK_FORK=yes;CK_DEFAULT_TIMEOUT=60")
endif()
