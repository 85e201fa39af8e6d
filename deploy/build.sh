#!/usr/bin/env bash
# Configures and builds tgrack into ./build, or into $BUILD_DIR when set (extra arguments
# are make targets).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
make -C "$build" -j2 "$@"
