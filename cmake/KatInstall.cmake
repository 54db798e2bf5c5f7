# `cmake --install BUILD --prefix P` installs the kat command, the libraries, the headers under
# P/include/kat/ (so `#include <kat/autograd/ops.h>`, nothing clashing with a program's own core/
# or data/), and P/lib/cmake/kat/ for `find_package(kat CONFIG REQUIRED)`, whose target kat::kat
# brings every library, include path and dependency. Plugins (layers/plugin.h) build against it.
include(CMakePackageConfigHelpers)

# The version and the plugin interface's stamp, for the installed headers and for plugins.
string(SHA256 kat_abi_hash "kat ${PROJECT_VERSION} ${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER_VERSION} c++${CMAKE_CXX_STANDARD}")
string(SUBSTRING "${kat_abi_hash}" 0 16 KAT_PLUGIN_ABI)
configure_file(${PROJECT_SOURCE_DIR}/cmake/version.h.in ${PROJECT_BINARY_DIR}/generated/core/version.h @ONLY)

set(kat_libraries kat_core kat_autograd kat_layers kat_optim kat_data kat_metrics kat_train)
foreach(lib ${kat_libraries})
  string(REPLACE "kat_" "" short ${lib})
  set_target_properties(${lib} PROPERTIES EXPORT_NAME ${short} VERSION ${PROJECT_VERSION}
                                          SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
endforeach()
add_library(kat_all INTERFACE)
target_link_libraries(kat_all INTERFACE ${kat_libraries})
set_target_properties(kat_all PROPERTIES EXPORT_NAME kat)
add_library(kat::kat ALIAS kat_all)

if(NOT KAT_SHARED_LIBS)
  message(STATUS "kat: static libraries (KAT_SHARED_LIBS=OFF): no install rules, no plugins")
  return()
endif()

install(TARGETS kat RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS ${kat_libraries} kat_all EXPORT katTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
foreach(dir core autograd layers optim data train)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${dir} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/kat
          FILES_MATCHING PATTERN "*.h")
endforeach()
install(FILES ${PROJECT_BINARY_DIR}/generated/core/version.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/kat/core)
# The headers include each other as "core/tensor.h"; installed, they say "kat/core/tensor.h".
install(CODE "set(KAT_HEADERS \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_INCLUDEDIR}/kat\")")
install(SCRIPT ${PROJECT_SOURCE_DIR}/cmake/KatRewriteIncludes.cmake)
install(EXPORT katTargets NAMESPACE kat:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/kat)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/katConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/katConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/kat)
# A plugin is built for one kat version (the plugin loader checks the stamp as well).
write_basic_package_version_file(${PROJECT_BINARY_DIR}/katConfigVersion.cmake COMPATIBILITY ExactVersion)
install(FILES ${PROJECT_BINARY_DIR}/katConfig.cmake ${PROJECT_BINARY_DIR}/katConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/kat)
