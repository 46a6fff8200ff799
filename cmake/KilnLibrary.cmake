# kiln_cc_library(<name> SRCS <sources...> DEPS <targets...>)
#
# One of Kiln's static C++ libraries: built with the project's warnings (KILN_WARNINGS), with
# DEPS as public link dependencies, and also reachable as kiln::<name without the kiln_ prefix>
# (kiln_base -> kiln::base, kiln_metadata_lib -> kiln::metadata_lib).
function(kiln_cc_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "kiln_cc_library(${name}): unknown arguments ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  add_library(${name} STATIC ${ARG_SRCS})
  target_compile_options(${name} PRIVATE ${KILN_WARNINGS})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  string(REGEX REPLACE "^kiln_" "" alias "${name}")
  add_library(kiln::${alias} ALIAS ${name})
endfunction()
