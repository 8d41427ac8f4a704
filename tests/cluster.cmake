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

# Kamailio's dispatcher in front of two tspsd nodes (contrib/kamailio), sipp
# through it, one node killed mid-load: no call may fail.
find_program(TSPS_KAMAILIO_BIN kamailio PATHS /usr/sbin)
find_program(TSPS_CLUSTER_SIPP sipp)
find_program(TSPS_CLUSTER_PY3 NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(TARGET tspsd AND TARGET tspsctl AND TSPS_ETCD_BIN AND TSPS_KAMAILIO_BIN
   AND TSPS_CLUSTER_SIPP AND TSPS_CLUSTER_PY3)
  add_test(NAME cluster_sip
    COMMAND ${TSPS_CLUSTER_PY3} ${CMAKE_CURRENT_SOURCE_DIR}/cluster/cluster_sip.py
            --tspsd $<TARGET_FILE:tspsd> --tspsctl $<TARGET_FILE:tspsctl>
            --sipp ${TSPS_CLUSTER_SIPP} --etcd ${TSPS_ETCD_BIN}
            --kamailio ${TSPS_KAMAILIO_BIN}
            --kamailio-cfg ${PROJECT_SOURCE_DIR}/contrib/kamailio/kamailio.cfg
            --scenarios ${CMAKE_CURRENT_SOURCE_DIR}/cluster/scenarios
            --rate 100 --calls 1500)
  set_tests_properties(cluster_sip PROPERTIES TIMEOUT 180 LABELS "cluster")
endif()
