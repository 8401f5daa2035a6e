# Warnings apply to project code only; third-party headers are included as SYSTEM.
function(hllm_project_flags target)
  get_target_property(_type ${target} TYPE)
  if(_type STREQUAL "INTERFACE_LIBRARY")
    return()
  endif()
  # __FILE__ relative to the project root, so error messages name "parallel/comm/x.cpp:12".
  target_compile_options(${target} PRIVATE -Wall -Wextra "-fmacro-prefix-map=${PROJECT_SOURCE_DIR}/=")
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
endfunction()

# hllm_library(NAME SOURCES ... LINKS ...): one library per folder.
function(hllm_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LINKS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_link_libraries(${name} PUBLIC ${ARG_LINKS})
  hllm_project_flags(${name})
endfunction()

# hllm_executable(NAME SOURCES ... LINKS ...)
function(hllm_executable name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LINKS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LINKS})
  hllm_project_flags(${name})
endfunction()
