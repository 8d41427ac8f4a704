# Shared compile settings for every tsps target: warnings, -Werror in CI,
# sanitizers in dev/CI builds (never installed).
function(tsps_target_defaults tgt)
  target_compile_options(${tgt} PRIVATE
    $<$<COMPILE_LANGUAGE:C>:-Wall -Wextra -Wshadow -Wstrict-prototypes
      -Wmissing-prototypes -Wno-unused-parameter>
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra>
    $<$<BOOL:${TSPS_WERROR}>:-Werror>)
endfunction()

# Sanitizers apply to every target of the build (dev/CI only; never installed).
if(TSPS_SANITIZE)
  add_compile_options(-fsanitize=${TSPS_SANITIZE} -fno-sanitize-recover=all
    -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${TSPS_SANITIZE})
endif()

# Fuzz builds instrument every library for coverage.
if(TSPS_BUILD_FUZZERS)
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
