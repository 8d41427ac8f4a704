# The carddav:/caldav: adapters (included by libcmsbridge/CMakeLists.txt
# when CMSB_WITH_CARDDAV is on): libcurl + libxml2, built into cmsb.
pkg_check_modules(CMSB_CURL REQUIRED IMPORTED_TARGET GLOBAL libcurl)
pkg_check_modules(CMSB_XML2 REQUIRED IMPORTED_TARGET GLOBAL libxml-2.0)

file(GLOB _cmsb_dav_sources CONFIGURE_DEPENDS
  ${CMAKE_CURRENT_SOURCE_DIR}/adapters/dav/*.c)
target_sources(cmsb_obj PRIVATE ${_cmsb_dav_sources})
target_include_directories(cmsb_obj PRIVATE
  ${CMAKE_CURRENT_SOURCE_DIR}/adapters/dav)
target_compile_definitions(cmsb_obj PRIVATE CMSB_WITH_CARDDAV)
target_link_libraries(cmsb_obj PRIVATE PkgConfig::CMSB_CURL PkgConfig::CMSB_XML2)
target_link_libraries(cmsb PRIVATE PkgConfig::CMSB_CURL PkgConfig::CMSB_XML2)
target_link_libraries(cmsb_static PUBLIC
  $<BUILD_INTERFACE:PkgConfig::CMSB_CURL> $<BUILD_INTERFACE:PkgConfig::CMSB_XML2>)
target_link_libraries(cmsb_static INTERFACE
  $<INSTALL_INTERFACE:curl> $<INSTALL_INTERFACE:xml2>)

# For tests, fuzzers and benchmarks that reach into the adapter internals
# (the multistatus parser, the state): the include paths only.
add_library(cmsb_dav_internal INTERFACE)
target_include_directories(cmsb_dav_internal INTERFACE
  ${CMAKE_CURRENT_SOURCE_DIR}/adapters/dav
  ${CMAKE_CURRENT_SOURCE_DIR}/adapters/vcard
  ${CMAKE_CURRENT_SOURCE_DIR}/src)
target_link_libraries(cmsb_dav_internal INTERFACE cmsb_static)
