# The related-item adapters (included by libcmsbridge/CMakeLists.txt):
#   CMSB_WITH_MAILDIR  maildir:            GMime
#   CMSB_WITH_IMAP     imap:/imaps:        libcurl + GMime, LMDB (index)
#   CMSB_WITH_DOCS     docs-dir:           poppler-glib, libxml2, libzip, GMime
# The shared part (adapters/related: item sets, the MIME reader) is built
# when any of them is on.
set(_rel_dir ${CMAKE_CURRENT_SOURCE_DIR}/adapters)
set(_rel_pc "")
set(_rel_libs "")
if(CMSB_WITH_MAILDIR OR CMSB_WITH_IMAP OR CMSB_WITH_DOCS)
  pkg_check_modules(CMSB_GMIME REQUIRED IMPORTED_TARGET GLOBAL gmime-3.0)
  file(GLOB _rel_src CONFIGURE_DEPENDS ${_rel_dir}/related/*.c)
  list(APPEND _rel_libs PkgConfig::CMSB_GMIME)
  list(APPEND _rel_pc gmime-3.0)
  target_include_directories(cmsb_obj PRIVATE ${_rel_dir}/related)
  if(CMSB_WITH_MAILDIR)
    file(GLOB _s CONFIGURE_DEPENDS ${_rel_dir}/maildir/*.c)
    list(APPEND _rel_src ${_s})
    target_compile_definitions(cmsb_obj PRIVATE CMSB_WITH_MAILDIR)
  endif()
  if(CMSB_WITH_IMAP)
    pkg_check_modules(CMSB_CURL REQUIRED IMPORTED_TARGET GLOBAL libcurl)
    # the header index (imap_index.c) is an LMDB file
    pkg_check_modules(CMSB_LMDB REQUIRED IMPORTED_TARGET GLOBAL lmdb)
    file(GLOB _s CONFIGURE_DEPENDS ${_rel_dir}/imap/*.c)
    list(APPEND _rel_src ${_s})
    list(APPEND _rel_libs PkgConfig::CMSB_CURL PkgConfig::CMSB_LMDB
      Threads::Threads)
    list(APPEND _rel_pc libcurl lmdb)
    target_compile_definitions(cmsb_obj PRIVATE CMSB_WITH_IMAP)
  endif()
  if(CMSB_WITH_DOCS)
    pkg_check_modules(CMSB_POPPLER REQUIRED IMPORTED_TARGET GLOBAL poppler-glib)
    pkg_check_modules(CMSB_XML2 REQUIRED IMPORTED_TARGET GLOBAL libxml-2.0)
    pkg_check_modules(CMSB_ZIP REQUIRED IMPORTED_TARGET GLOBAL libzip)
    file(GLOB _s CONFIGURE_DEPENDS ${_rel_dir}/docs/*.c)
    list(APPEND _rel_src ${_s})
    list(APPEND _rel_libs PkgConfig::CMSB_POPPLER PkgConfig::CMSB_XML2
      PkgConfig::CMSB_ZIP)
    list(APPEND _rel_pc poppler-glib libxml-2.0 libzip)
    target_compile_definitions(cmsb_obj PRIVATE CMSB_WITH_DOCS)
  endif()
  target_sources(cmsb_obj PRIVATE ${_rel_src})
  target_link_libraries(cmsb_obj PRIVATE ${_rel_libs})
  target_link_libraries(cmsb PRIVATE ${_rel_libs})
  foreach(_l ${_rel_libs})
    target_link_libraries(cmsb_static PUBLIC $<BUILD_INTERFACE:${_l}>)
  endforeach()
  list(REMOVE_DUPLICATES _rel_pc)
  string(REPLACE ";" " " CMSB_PC_REL_REQUIRES "${_rel_pc}")

  # Tests, fuzzers and benchmarks that reach into the shared part.
  add_library(cmsb_related_internal INTERFACE)
  target_include_directories(cmsb_related_internal INTERFACE
    ${_rel_dir}/related ${_rel_dir}/docs ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_link_libraries(cmsb_related_internal INTERFACE cmsb_static ${_rel_libs})
endif()
