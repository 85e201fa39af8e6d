#!/usr/bin/env bash
# Two racks of two hosts (network namespaces, deploy/netns/netns.sh), host links shaped to
# 2 Gbit/s and rack uplinks to 1 Gbit/s: a daemon per host told its rack (--rack), the
# controller beside the first. The racks must show in `tgctl nodes` and `tgctl topology`,
# the communicator over every device must group its ranks by rack (the cost model's remote
# links are the uplinks), and all-reduce across the racks must be right with the model's
# choice and with hierarchical (one leader per rack); a job that fits in one rack is placed
# inside it.
#   rack_sim_test.sh BUILD_DIR
source "$(dirname "$0")/../../deploy/netns/netns_pool.sh"
pool_init rack_sim_test "${1:?usage: rack_sim_test.sh BUILD_DIR}"

netns up --racks 2 --hosts 2 --host-rate 2gbit --uplink-rate 1gbit >/dev/null
pool_certs $(netns hosts | awk '{ print "node-" $1 }')
start_controller r1h1
while read -r host rack address; do
  start_daemon "$host" "node-$host" --listen 0.0.0.0:7071 --advertise "$address" --rack "r$rack"
done < <(netns hosts)
wait_nodes_up 4

nodes=$(tgctl_in r1h1 nodes 2>&1) || fail "tgctl nodes: $nodes"
for host in r1h1 r1h2 r2h1 r2h2; do
  grep -Eq "^node-$host +r${host:1:1} +UP" <<<"$nodes" ||
    fail "tgctl nodes should show node-$host in rack r${host:1:1}: $nodes"
done
topology=$(tgctl_in r1h1 topology 2>&1) || fail "tgctl topology: $topology"
grep -q "node-r2h2  10.77.2.2:[0-9]*  rack r2" <<<"$topology" ||
  fail "tgctl topology should show node-r2h2's rack: $topology"

check_bench() {
  local what="$1"
  shift
  bench=$(tgctl_in r1h1 bench allreduce --min 1K --max 4M --factor 64 --iters 3 --warmup 1 \
    --check --verbose "$@" 2>&1) || fail "$what: $bench"
  awk '!/^#/ && NF && $1 ~ /^[0-9]/ { rows++; if ($NF != "0") bad = 1 } END { exit (bad || rows == 0) }' \
    <<<"$bench" || fail "$what reported wrong elements: $bench"
}
check_bench "all-reduce across racks"
grep -q "groups are racks" <<<"$bench" ||
  fail "the cost model should group the ranks by rack: $bench"
grep -q "over 4 ranks on 2 link group(s)" <<<"$bench" ||
  fail "the cost model should see 2 racks of 4 ranks: $bench"
chosen_bench="$bench"
check_bench "hierarchical all-reduce across racks" --algo hierarchical
# Two devices fit in one rack: the controller places them there (rack r1, the first of two
# equal racks), so no rank crosses an uplink.
check_bench "all-reduce on 2 devices placed by the controller" --devices 2
! grep -q "groups are racks" <<<"$bench" || fail "2 devices should be placed inside one rack: $bench"
grep -q "over 2 ranks on 2 daemon(s)" <<<"$bench" || fail "2 devices on 2 hosts expected: $bench"

echo "rack_sim_test: OK"
echo "$chosen_bench"
