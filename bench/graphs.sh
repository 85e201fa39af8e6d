#!/usr/bin/env bash
# Graph round trip and throughput on a loopback pool of one daemon with one cpu device: builds
# tgcontroller, tgd, tgctl and graph_bench, starts the pool with bench/pool.sh and runs
# graph_bench (arguments pass through, e.g. --iters 10000 --clients 8 --seconds 5 --json).
#   bench/graphs.sh [GRAPH_BENCH ARGS...]      Environment: BUILD_DIR (default build-bench).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build-bench}
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  make -C "$build" -j2 tgcontroller tgd tgctl graph_bench >/dev/null
fi
"$root/bench/pool.sh" "$build" 1 1 -- "$build/bench/graph_bench" "$@"
