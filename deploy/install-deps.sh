#!/usr/bin/env bash
# Installs the Debian 12 packages tgrack builds and runs with, only those not yet installed.
# A minimal Debian (debootstrap --variant=minbase) lacks make, ps and the CA certificates;
# the build, deploy/quickstart.sh (ps, setsid, awk) and the tests (sh, promtool) need them.
set -euo pipefail

packages=(
  cmake make g++ pkg-config
  procps ca-certificates
  clang libclang-rt-14-dev
  libssl-dev libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libgtest-dev libgmock-dev
  libcli11-dev libspdlog-dev nlohmann-json3-dev
  libopenblas-dev prometheus-cpp-dev libibverbs-dev
  hipcc libamdhip64-dev librocm-smi-dev
  prometheus
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=()
if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
"${sudo[@]}" apt-get update -q
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
