# Every dependency comes from Debian's packages; scripts/install-deps.sh installs the missing ones.
find_package(Threads REQUIRED)
find_package(TBB REQUIRED CONFIG)
find_package(fmt REQUIRED CONFIG)
find_package(spdlog REQUIRED CONFIG)
find_package(yaml-cpp REQUIRED CONFIG)
find_package(CLI11 QUIET CONFIG)
find_package(HDF5 REQUIRED COMPONENTS C)

# OpenBLAS: its CMake package when present, pkg-config otherwise.
find_package(OpenBLAS QUIET CONFIG)
if(OpenBLAS_FOUND)
  add_library(kat_openblas INTERFACE)
  target_include_directories(kat_openblas SYSTEM INTERFACE ${OpenBLAS_INCLUDE_DIRS})
  target_link_libraries(kat_openblas INTERFACE ${OpenBLAS_LIBRARIES})
else()
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(OPENBLAS REQUIRED IMPORTED_TARGET openblas)
  add_library(kat_openblas INTERFACE)
  target_link_libraries(kat_openblas INTERFACE PkgConfig::OPENBLAS)
endif()

if(NOT TARGET CLI11::CLI11)
  find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp REQUIRED)
  add_library(CLI11::CLI11 INTERFACE IMPORTED)
  target_include_directories(CLI11::CLI11 INTERFACE ${CLI11_INCLUDE_DIR})
endif()

# SentencePiece: Debian ships a pkg-config file (libsentencepiece-dev), no CMake package.
find_package(PkgConfig REQUIRED)
pkg_check_modules(SENTENCEPIECE REQUIRED IMPORTED_TARGET sentencepiece)
