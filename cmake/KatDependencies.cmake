# Every dependency comes from Debian's packages; scripts/install-deps.sh installs the missing ones.
find_package(Threads REQUIRED)
find_package(TBB REQUIRED CONFIG)
find_package(fmt REQUIRED CONFIG)
find_package(spdlog REQUIRED CONFIG)
find_package(yaml-cpp REQUIRED CONFIG)
find_package(CLI11 QUIET CONFIG)
find_package(HDF5 REQUIRED COMPONENTS C)
find_package(nlohmann_json 3 REQUIRED CONFIG)  # every JSON file kat writes or reads

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

# MPI (Debian's libopenmpi-dev) for data-parallel training, optional: without it kat builds and
# runs as one process. kat calls MPI's C interface, so the C component is all it needs.
set(KAT_MPI "auto" CACHE STRING "Data-parallel training over MPI: auto (when found), on (required), off")
set_property(CACHE KAT_MPI PROPERTY STRINGS auto on off)
string(TOLOWER "${KAT_MPI}" kat_mpi_choice)
if(kat_mpi_choice STREQUAL "on")
  find_package(MPI REQUIRED COMPONENTS C)
elseif(kat_mpi_choice STREQUAL "auto")
  find_package(MPI QUIET COMPONENTS C)
elseif(NOT kat_mpi_choice STREQUAL "off")
  message(FATAL_ERROR "KAT_MPI must be auto, on or off, got '${KAT_MPI}'")
endif()
if(MPI_C_FOUND AND NOT kat_mpi_choice STREQUAL "off")
  set(KAT_HAVE_MPI ON)
  message(STATUS "kat: data-parallel training over MPI ${MPI_C_VERSION} (${MPIEXEC_EXECUTABLE})")
else()
  set(KAT_HAVE_MPI OFF)
  message(STATUS "kat: without MPI (one process; install libopenmpi-dev for data-parallel training)")
endif()
