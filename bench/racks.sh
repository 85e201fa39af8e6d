#!/usr/bin/env bash
# All-reduce across simulated racks (deploy/netns/netns.sh; root): RACKS racks of HOSTS
# hosts, one tgd with one cpu device per host, host links shaped to HOST_RATE and rack
# uplinks to UPLINK_RATE. For every size, the cost model's own choice, ring and hierarchical,
# beside the bound the slowest links set. Not a test: the numbers depend on the machine.
#
# The bound: every rank sends at least 2(n-1)/n of the buffer over its host link, and every
# rack, as one participant of an all-reduce among the m racks, at least 2(m-1)/m over its
# uplink (each direction), so no all-reduce takes less than the larger of the two transfer
# times. A flat ring crosses each uplink once per direction and so moves 2(n-1)/n over it;
# two-level schedules move 2(m-1)/m.
#
# Columns: time (us) and busbw (GB/s) as nccl-tests prints them (busbw = size / time x
# 2(n-1)/n); model/bound = bound time / model time; model/best = the faster fixed algorithm's
# time / model time (1 or more: the model picked at least as well). Times below 4 MiB are
# medians over the rounds: in each round the model, ring and hierarchical take turns size by
# size, each round starting with the next of them, so all three meet the same load.
#   bench/racks.sh [BUILD_DIR] [MAX_BYTES]     (build/ and 256M by default)
# Environment: RACKS (4), HOSTS (4), HOST_RATE (2gbit), UPLINK_RATE (1gbit), MTU (9000),
# ITERS (5) and WARMUP (1) per size from 4 MiB; below, SMALL_ITERS (20), SMALL_WARMUP (5)
# and ROUNDS (5); MIN_BYTES (1K), RAW_DIR (where the raw tgctl outputs are kept; default: a
# directory under bench/results named after the shape), and TGCONTROLLER_EXTRA_FLAGS,
# TGD_EXTRA_FLAGS, TGCTL_EXTRA_FLAGS. The load average before and after goes with the table.
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/deploy/netns/netns_pool.sh"
pool_init racks_bench "$(cd "${1:-$root/build}" && pwd)"
max=${2:-256M}
racks=${RACKS:-4} hosts=${HOSTS:-4}
host_rate=${HOST_RATE:-2gbit} uplink_rate=${UPLINK_RATE:-1gbit}
raw=${RAW_DIR:-$root/bench/results/racks-${racks}x${hosts}-raw}

bits_per_second() {
  case "$1" in
    *gbit) echo $(( ${1%gbit} * 1000000000 )) ;;
    *mbit) echo $(( ${1%mbit} * 1000000 )) ;;
    *kbit) echo $(( ${1%kbit} * 1000 )) ;;
    *) echo "racks.sh: rate '$1': give it as NUMBER followed by gbit, mbit or kbit" >&2; exit 2 ;;
  esac
}
host_bps=$(bits_per_second "$host_rate")
uplink_bps=$(bits_per_second "$uplink_rate")
max_bytes=$(numfmt --from=iec "$max")
# Deadline per all-reduce: four times a flat ring's time at the largest size, and 30 s more.
timeout_ms=$(awk -v s="$max_bytes" -v u="$uplink_bps" -v h="$host_bps" \
  'BEGIN { r = (u < h ? u : h) / 8; printf "%d", (4 * 2 * s / r + 30) * 1000 }')

netns up --racks "$racks" --hosts "$hosts" --host-rate "$host_rate" --uplink-rate "$uplink_rate" \
  --mtu "${MTU:-9000}"
pool_certs $(netns hosts | awk '{ print "node-" $1 }')
start_controller r1h1
device_memory=$(( (2 * max_bytes >> 20) + 64 ))M
while read -r host rack address; do
  start_daemon "$host" "node-$host" --listen 0.0.0.0:7071 --advertise "$address" --rack "r$rack"
done < <(netns hosts)
wait_nodes_up $(( racks * hosts ))

# Sizes below 4 MiB take milliseconds and vary with what else the cores run: more
# iterations, and ROUNDS rounds in which the three take turns at every size (each on a
# communicator of its own, calibrated then); the table takes the median.
rounds=${ROUNDS:-5}
min_bytes=$(numfmt --from=iec "${MIN_BYTES:-1K}")
small_max=$(( max_bytes < 1 << 20 ? max_bytes : 1 << 20 ))
large_min=$(( min_bytes > 4 << 20 ? min_bytes : 4 << 20 ))
bench() {  # ALGORITHM FROM TO ITERS WARMUP OUTPUT: appends tgctl's output to OUTPUT
  local flags=()
  [[ $1 == model ]] || flags=(--algo "$1")
  tgctl_in r1h1 bench allreduce --min "$2" --max "$3" --factor 4 --iters "$4" --warmup "$5" \
    --timeout-ms "$timeout_ms" --verbose "${flags[@]}" >>"$work/$6" 2>"$work/$6.err" ||
    fail "bench allreduce ${flags[*]}: $(cat "$work/$6" "$work/$6.err")"
}
mkdir -p "$raw"
rm -f "$raw"/*.txt
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
outputs=()
algorithms=(model ring hierarchical)
if (( min_bytes < 4 << 20 )); then
  for (( round = 1; round <= rounds; round++ )); do
    for (( size = min_bytes; size <= small_max; size *= 4 )); do
      for (( turn = 0; turn < 3; turn++ )); do
        algorithm=${algorithms[(round - 1 + turn) % 3]}
        bench "$algorithm" "$size" "$size" "${SMALL_ITERS:-20}" "${SMALL_WARMUP:-5}" \
          "$algorithm.small.$round.txt"
      done
    done
    for algorithm in "${algorithms[@]}"; do outputs+=("$work/$algorithm.small.$round.txt"); done
  done
fi
if (( max_bytes >= 4 << 20 )); then
  for algorithm in "${algorithms[@]}"; do
    bench "$algorithm" "$large_min" "$max_bytes" "${ITERS:-5}" "${WARMUP:-1}" "$algorithm.large.txt"
    outputs+=("$work/$algorithm.large.txt")
  done
fi
cp "${outputs[@]}" "$raw/"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

{
echo "# $racks racks x $hosts hosts x 1 cpu device; host links $host_rate, rack uplinks $uplink_rate," \
  "mtu ${MTU:-9000}; iters ${ITERS:-5} (warmup ${WARMUP:-1}) from 4 MiB;" \
  "below, the median of $rounds rounds of ${SMALL_ITERS:-20} (warmup ${SMALL_WARMUP:-5}), the three taking turns at every size"
echo "# load average (1, 5, 15 min) before: $load_before; after: $load_after"
echo "# bound: max(2(n-1)/n x size / host rate, 2(m-1)/m x size / uplink rate), n = $(( racks * hosts )) ranks, m = $racks racks"
awk -v racks="$racks" -v ranks=$(( racks * hosts )) -v host="$host_bps" -v uplink="$uplink_bps" '
  /^#/ || !NF { next }
  { algorithm = FILENAME; sub(/.*\//, "", algorithm); sub(/\..*/, "", algorithm)
    size = $1; key = algorithm SUBSEP size; runs[key]++; times[key, runs[key]] = $6
    if (algorithm == "model") chosen[size] = chosen[size] == "" || chosen[size] == $5 ? $5 : "varies"
    if (!(size in seen)) { seen[size] = 1; sizes[++n] = size } }
  function median(key,   i, j, m, v, x) {
    m = runs[key]
    for (i = 1; i <= m; i++) v[i] = times[key, i]
    for (i = 2; i <= m; i++) { x = v[i]; for (j = i - 1; j >= 1 && v[j] > x; j--) v[j + 1] = v[j]; v[j + 1] = x }
    return v[int((m + 1) / 2)]
  }
  END {
    for (i = 2; i <= n; i++) { x = sizes[i]; for (j = i - 1; j >= 1 && sizes[j] > x; j--) sizes[j + 1] = sizes[j]; sizes[j + 1] = x }
    factor = 2 * (ranks - 1) / ranks
    printf "| %10s | %-12s | %11s | %7s | %11s | %7s | %11s | %7s | %11s | %7s | %11s | %10s |\n",
      "size (B)", "model picks", "model (us)", "busbw", "ring (us)", "busbw", "hier (us)", "busbw",
      "bound (us)", "busbw", "model/bound", "model/best"
    print "|-----------:|:-------------|------------:|--------:|------------:|--------:|------------:|--------:|------------:|--------:|------------:|-----------:|"
    for (i = 1; i <= n; i++) {
      s = sizes[i]
      model = median("model" SUBSEP s); ring = median("ring" SUBSEP s); hier = median("hierarchical" SUBSEP s)
      on_hosts = factor * s / (host / 8)
      on_uplinks = racks > 1 ? 2 * (racks - 1) / racks * s / (uplink / 8) : 0
      bound = (on_hosts > on_uplinks ? on_hosts : on_uplinks) * 1e6
      best = ring < hier ? ring : hier
      printf "| %10d | %-12s | %11.1f | %7.4f | %11.1f | %7.4f | %11.1f | %7.4f | %11.1f | %7.4f | %11.2f | %10.2f |\n",
        s, chosen[s], model, s * factor / model / 1e3, ring, s * factor / ring / 1e3, hier,
        s * factor / hier / 1e3, bound, s * factor / bound / 1e3, bound / model, best / model
    }
  }' "${outputs[@]}"
} | tee "$raw/table.md"
