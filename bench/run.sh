#!/usr/bin/env bash
# Side-by-side all-reduce benchmark: the peers from ../shared/anchors (PyTorch's Gloo backend,
# OpenMPI over TCP and over shared memory, the iperf3 loopback limit) and tgrack's own
# `tgctl bench allreduce` on a loopback pool — 2 and 4 ranks across daemons (tcp, and tcp
# encrypted with tgd --data-tls) and within one daemon (local copies) — in one run, then one
# table with ours/theirs per size, the cost of encryption and how close 2 ranks come to the
# loopback bound (two iperf3 pairs with 1 MiB writes). RUNS=N repeats the whole run (peers and
# ours, one after the other) N times into OUTDIR/run1..N; the table shows the median of each cell.
#   bench/run.sh OUTDIR [MAX_BYTES]        (about 15 minutes a run; installs the peers if missing)
# Environment: ANCHORS (peer harness dir), BUILD_DIR (default build-bench), RUNS (default 1),
# SKIP_PEERS=1 to reuse the anchors/ of an earlier run (or leave the peers' columns empty),
# ROWS to run only some of tcp_w2 tls_w2 tcp_w4 tls_w4 local_w2 local_w4 (default all).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: bench/run.sh OUTDIR [MAX_BYTES]}
max=${2:-$((256 << 20))}
anchors=${ANCHORS:-$root/../shared/anchors}
build=${BUILD_DIR:-$root/build-bench}
mkdir -p "$out" && out=$(cd "$out" && pwd)

need=()
if [[ ${SKIP_PEERS:-0} != 1 ]]; then
  for pkg in python3-torch openmpi-bin libopenmpi-dev iperf3; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
  done
fi
if [[ ${#need[@]} -gt 0 ]]; then
  echo "bench: installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}" >"$out/apt.log" 2>&1
fi

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$out/cmake.log"
make -C "$build" -j2 tgcontroller tgd tgctl >"$out/make.log"

peers() {  # RUN_DIR
  [[ ${SKIP_PEERS:-0} == 1 ]] && return 0
  echo "bench: peers (Gloo, OpenMPI tcp/shm, iperf3, memcpy)"
  bash "$anchors/run.sh" "$1/anchors" "$max" | tee "$1/anchors.txt"
}

ours() {  # RUN_DIR NAME DAEMONS DEVICES_PER_DAEMON [TGD_FLAGS]
  local dir=$1
  shift
  # Iterations per size as the peers' harness (mpi_bench.c) uses them, and the median of 3
  # trials as both peers report.
  local name=$1 daemons=$2 devices=$3 flags=${4:-}
  [[ " ${ROWS:-$name} " == *" $name "* ]] || return 0
  echo "bench: tgrack $name"
  TGD_ARGS=$flags "$root/bench/pool.sh" "$build" "$daemons" "$devices" -- bash -c "
    band() { # PART MIN MAX ITERS WARMUP
      [[ \$2 -gt $max ]] && return 0
      '$build/client/tgctl' bench allreduce --min \$2 --max \$(( \$3 < $max ? \$3 : $max )) --factor 4 \
        --iters \$4 --warmup \$5 --trials 3 --in-place --check --json > '$dir/$name.'\$1'.json'
    }
    band 1 1024 $((64 << 10)) 200 20 && band 2 $((256 << 10)) $((1 << 20)) 50 5 &&
      band 3 $((4 << 20)) $((16 << 20)) 20 3 && band 4 $((64 << 20)) $((1 << 40)) 10 2"
}
runs=()
for run in $(seq "${RUNS:-1}"); do
  dir=$out
  [[ ${RUNS:-1} -gt 1 ]] && dir=$out/run$run && mkdir -p "$dir" && echo "bench: run $run of $RUNS"
  runs+=("$dir")
  peers "$dir"
  ours "$dir" tcp_w2 2 1
  ours "$dir" tls_w2 2 1 --data-tls
  ours "$dir" tcp_w4 4 1
  ours "$dir" tls_w4 4 1 --data-tls
  ours "$dir" local_w2 1 2
  ours "$dir" local_w4 1 4
done

python3 "$root/bench/table.py" "${runs[@]}" | tee "$out/table.md"
