#!/usr/bin/env bash
# Installs Debian 12 packages for tgrack, only those not yet installed.
#   deploy/install-deps.sh            a build host: what builds tgrack, runs its tests
#                                     (promtool from prometheus, systemd-analyze from systemd)
#                                     and builds its Debian packages (dpkg-dev)
#   deploy/install-deps.sh --runtime  a host that runs tgd or tgcontroller installed with
#                                     `cmake --install`: the shared libraries they load. Hosts
#                                     that install the .deb packages need neither: apt installs
#                                     a package's dependencies with it (docs/deploy.md). The
#                                     ROCm runtime (libamdhip64-5, librocm-smi64-1) belongs
#                                     only on GPU hosts, for the tgrack-hip plugin.
# A minimal Debian (debootstrap --variant=minbase) lacks make, ps, ip and the CA certificates;
# the build, deploy/quickstart.sh (ps, setsid, awk) and the tests (sh, promtool) need them.
set -euo pipefail

build_packages=(
  cmake make g++ pkg-config
  procps ca-certificates iproute2
  clang libclang-rt-14-dev
  libssl-dev libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libgtest-dev libgmock-dev
  libcli11-dev libspdlog-dev nlohmann-json3-dev libssl-dev libsqlite3-dev
  libopenblas-dev prometheus-cpp-dev libibverbs-dev
  hipcc libamdhip64-dev librocm-smi-dev
  prometheus systemd dpkg-dev
)
runtime_packages=(
  libgrpc++1.51 libprotobuf32 libabsl20220623 libspdlog1.10 libfmt9 libopenblas0
  libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 libibverbs1 libssl3 libsqlite3-0
)

case "${1:-}" in
  "") packages=("${build_packages[@]}") ;;
  --runtime) packages=("${runtime_packages[@]}") ;;
  *) echo "usage: deploy/install-deps.sh [--runtime]" >&2; exit 2 ;;
esac

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
