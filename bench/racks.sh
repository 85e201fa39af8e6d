#!/usr/bin/env bash
# All-reduce across simulated racks (deploy/netns/netns.sh; root): RACKS racks of HOSTS
# hosts, one tgd with one cpu device per host, host links shaped to HOST_RATE and rack
# uplinks to UPLINK_RATE. For every size, ring, hierarchical (one leader per rack) and the
# cost model's own choice, beside the bound the slowest link sets: a ring moves
# 2(n-1)/n of the buffer over every link, so no all-reduce beats busbw = the slowest rate.
# Columns as nccl-tests prints them: time (us), algbw = size / time, busbw = algbw 2(n-1)/n
# (GB/s). Not a test: the numbers depend on the machine.
#   bench/racks.sh [BUILD_DIR] [MAX_BYTES]     (build/ and 256M by default)
# Environment: RACKS (4), HOSTS (4), HOST_RATE (2gbit), UPLINK_RATE (1gbit), ITERS (5),
# MIN_BYTES (1K), and TGCONTROLLER_EXTRA_FLAGS, TGD_EXTRA_FLAGS, TGCTL_EXTRA_FLAGS.
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/deploy/netns/netns_pool.sh"
pool_init racks_bench "$(cd "${1:-$root/build}" && pwd)"
max=${2:-256M}
racks=${RACKS:-4} hosts=${HOSTS:-4}
host_rate=${HOST_RATE:-2gbit} uplink_rate=${UPLINK_RATE:-1gbit}

netns up --racks "$racks" --hosts "$hosts" --host-rate "$host_rate" --uplink-rate "$uplink_rate"
pool_certs $(netns hosts | awk '{ print "node-" $1 }')
start_controller r1h1
max_bytes=$(numfmt --from=iec "$max")
device_memory=$(( (2 * max_bytes >> 20) + 64 ))M
while read -r host rack address; do
  start_daemon "$host" "node-$host" --listen 0.0.0.0:7071 --advertise "$address" --rack "r$rack"
done < <(netns hosts)
wait_nodes_up $(( racks * hosts ))

for algorithm in model ring hierarchical; do
  flags=()
  [[ $algorithm == model ]] || flags=(--algo "$algorithm")
  tgctl_in r1h1 bench allreduce --min "${MIN_BYTES:-1K}" --max "$max" --factor 4 \
    --iters "${ITERS:-5}" --warmup 1 "${flags[@]}" >"$work/$algorithm.txt" ||
    fail "bench allreduce ${flags[*]}: $(cat "$work/$algorithm.txt")"
done

bits_per_second() {
  case "$1" in
    *gbit) echo $(( ${1%gbit} * 1000000000 )) ;;
    *mbit) echo $(( ${1%mbit} * 1000000 )) ;;
    *kbit) echo $(( ${1%kbit} * 1000 )) ;;
  esac
}
slowest=$(bits_per_second "$host_rate")
uplink=$(bits_per_second "$uplink_rate")
(( racks == 1 || uplink >= slowest )) || slowest=$uplink
echo "# $racks racks x $hosts hosts x 1 cpu device; host links $host_rate, rack uplinks $uplink_rate"
echo "# bound: busbw $(awk -v r="$slowest" 'BEGIN { printf "%.3f", r / 8e9 }') GB/s (the slowest link)"
awk -v ranks=$(( racks * hosts )) -v slowest="$slowest" '
  FNR == 1 { file++ }
  /^#/ || !NF { next }
  { size = $1; time[file, size] = $6; algbw[file, size] = $7; busbw[file, size] = $8
    if (file == 1) { sizes[++n] = size; chosen[size] = $5 } }
  END {
    printf "# %10s | %-12s %10s %7s %7s | %10s %7s %7s | %10s %7s %7s | %10s %7s | %s\n",
      "size(B)", "model:algo", "time(us)", "algbw", "busbw", "ring(us)", "algbw", "busbw",
      "hier(us)", "algbw", "busbw", "bound(us)", "busbw", "model/bound"
    for (i = 1; i <= n; i++) {
      s = sizes[i]
      bound_us = s * 2 * (ranks - 1) / ranks / (slowest / 8) * 1e6
      printf "  %10d | %-12s %10.1f %7.3f %7.3f | %10.1f %7.3f %7.3f | %10.1f %7.3f %7.3f | %10.1f %7.3f | %.2f\n",
        s, chosen[s], time[1, s], algbw[1, s], busbw[1, s], time[2, s], algbw[2, s], busbw[2, s],
        time[3, s], algbw[3, s], busbw[3, s], bound_us, slowest / 8e9, bound_us / time[1, s]
    }
  }' "$work/model.txt" "$work/ring.txt" "$work/hierarchical.txt"
