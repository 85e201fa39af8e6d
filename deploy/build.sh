#!/usr/bin/env bash
# Configures and builds tgrack into ./build (extra arguments are make targets).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
make -C build -j2 "$@"
