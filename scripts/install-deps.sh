#!/usr/bin/env bash
# Installs the Debian packages kat needs, only those missing; does nothing when all are present.
#   scripts/install-deps.sh           build, tests and the kat command (gnuplot for kat plot; OpenMPI
#                                     for data-parallel training, mpirun -np P kat train; oneDNN's
#                                     library for train.precision bf16)
#   scripts/install-deps.sh --bench   also Google Benchmark and the PyTorch peer for bench/
#   scripts/install-deps.sh --sword   also the SWORD Bibles and mod2imp that `kat prepare bible` reads
#   scripts/install-deps.sh --fuzz    also clang and libFuzzer's runtime, for scripts/fuzz.sh
set -euo pipefail

packages=(cmake g++ make pkg-config clang-format
          libopenblas-dev libtbb-dev libhdf5-dev libspdlog-dev libfmt-dev libyaml-cpp-dev
          doctest-dev libcli11-dev libsentencepiece-dev nlohmann-json3-dev gnuplot-nox libopenmpi-dev openmpi-bin
          libdnnl2)
for flag in "$@"; do
  case "$flag" in
    --bench) packages+=(libbenchmark-dev python3-torch python3-numpy python3-h5py libopenblas0-openmp libblis4-pthread libdnnl2) ;;
    --sword) packages+=(sword-text-web sword-text-sparv libsword-utils) ;;
    --fuzz) packages+=(clang libclang-rt-14-dev) ;;
    *) echo "install-deps: unknown option $flag (known: --bench, --sword, --fuzz)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "install-deps: installing ${missing[*]}"
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
