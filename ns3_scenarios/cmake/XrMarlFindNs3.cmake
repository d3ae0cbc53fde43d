# Locate ns-3 headers and libraries (shared by the scenarios' and the nr library's projects).
#
# In:  NS3_ROOT       an ns-3 install prefix, a source tree built with ./ns3 (its build/), or
#                     the `ns3` PyPI package directory (site-packages/ns3); empty: the `ns3`
#                     package of ${XRMARL_PYTHON}, located without importing it.
# Out: NS3_ROOT (cached), NS3_INCLUDE_DIR, NS3_LIBDIR, NS3_LIB_PREFIX/NS3_LIB_SUFFIX (the
#      libraries are lib${NS3_LIB_PREFIX}<module>${NS3_LIB_SUFFIX}.so) and the function
#      xrmarl_ns3_module(<out-var> <module>) giving one module's library path.
# The PyPI package's own CMake/pkg-config files carry its build machine's paths, so they are
# never used: headers and libraries are located by globbing.

if(NOT NS3_ROOT)
  execute_process(
    COMMAND ${XRMARL_PYTHON} -c
      "import importlib.util as u; s = u.find_spec('ns3'); print(list(s.submodule_search_locations)[0] if s and s.submodule_search_locations else '')"
    OUTPUT_VARIABLE _ns3_py OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _ns3_rc)
  if(NOT _ns3_rc EQUAL 0 OR NOT _ns3_py)
    message(FATAL_ERROR
      "ns-3 not found: `${XRMARL_PYTHON}` has no `ns3` package. Install it with "
      "`pip install ns3==3.44.post0`, or pass -DNS3_ROOT=<ns-3 install or source tree>.")
  endif()
  set(NS3_ROOT "${_ns3_py}" CACHE PATH "ns-3 location" FORCE)
endif()

set(NS3_INCLUDE_DIR "")
foreach(_cand "${NS3_ROOT}/include" "${NS3_ROOT}/build/include")
  if(EXISTS "${_cand}/ns3/core-module.h")
    set(NS3_INCLUDE_DIR "${_cand}")
    break()
  endif()
endforeach()
if(NOT NS3_INCLUDE_DIR)
  file(GLOB _ns3_versioned LIST_DIRECTORIES true "${NS3_ROOT}/include/ns3.*")
  foreach(_cand ${_ns3_versioned})
    if(EXISTS "${_cand}/ns3/core-module.h")
      set(NS3_INCLUDE_DIR "${_cand}")
      break()
    endif()
  endforeach()
endif()
if(NOT NS3_INCLUDE_DIR)
  message(FATAL_ERROR "ns-3 headers (ns3/core-module.h) not found under NS3_ROOT=${NS3_ROOT}")
endif()

set(_ns3_core "")
foreach(_dir "${NS3_ROOT}/lib64" "${NS3_ROOT}/lib" "${NS3_ROOT}/build/lib" "${NS3_ROOT}/build/lib64")
  file(GLOB _found "${_dir}/libns3*-core*.so")
  if(_found)
    list(GET _found 0 _ns3_core)
    set(NS3_LIBDIR "${_dir}")
    break()
  endif()
endforeach()
if(NOT _ns3_core)
  message(FATAL_ERROR "ns-3 libraries (libns3*-core*.so) not found under NS3_ROOT=${NS3_ROOT}")
endif()
# libns3.44-core.so (PyPI), libns3.44-core-default.so / -optimized.so (source builds)
get_filename_component(_core_name "${_ns3_core}" NAME)
string(REGEX MATCH "^lib(ns3[^-]*-)core(.*)\\.so$" _m "${_core_name}")
set(NS3_LIB_PREFIX "${CMAKE_MATCH_1}")
set(NS3_LIB_SUFFIX "${CMAKE_MATCH_2}")
message(STATUS "xrmarl: ns-3 headers ${NS3_INCLUDE_DIR}, libraries ${NS3_LIBDIR} (${NS3_LIB_PREFIX}<module>${NS3_LIB_SUFFIX})")

function(xrmarl_ns3_module out name)
  set(_lib "${NS3_LIBDIR}/lib${NS3_LIB_PREFIX}${name}${NS3_LIB_SUFFIX}.so")
  if(NOT EXISTS "${_lib}")
    message(FATAL_ERROR "ns-3 module library not found: ${_lib}")
  endif()
  set(${out} "${_lib}" PARENT_SCOPE)
endfunction()
