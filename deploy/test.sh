#!/usr/bin/env bash
# Command 2: installs what is missing, builds, and runs the whole test suite. Builds into
# ./build, or into $BUILD_DIR when set.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
deploy/build.sh
cd "${BUILD_DIR:-build}"
# Each test is killed after 300 s; the suite as a whole after 30 minutes.
timeout --kill-after=30 1800 ctest --output-on-failure -j2 --timeout 300
