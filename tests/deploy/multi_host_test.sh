#!/usr/bin/env bash
# Three hosts on one switch (network namespaces, deploy/netns/netns.sh): the controller alone
# on r1h1, a daemon on r1h2 bound to its address and one on r1h3 listening on 0.0.0.0 that
# finds its own. Both must register addresses the other hosts reach (never loopback), run
# graphs and training across hosts, and a checked all-reduce over both. A daemon that would
# advertise loopback to this remote controller refuses to start naming --advertise.
#   multi_host_test.sh BUILD_DIR
source "$(dirname "$0")/../../deploy/netns/netns_pool.sh"
pool_init multi_host_test "${1:?usage: multi_host_test.sh BUILD_DIR}"

netns up --racks 1 --hosts 3 >/dev/null
pool_certs node-b node-c
devices_per_daemon=2
start_controller r1h1
start_daemon r1h2 node-b --listen "$(netns addr r1h2):7071" --advertise "$(netns addr r1h2)"
start_daemon r1h3 node-c --listen 0.0.0.0:7071
wait_nodes_up 2

nodes=$(tgctl_in r1h1 nodes --json)
for pair in "node-b 10.77.1.2" "node-c 10.77.1.3"; do
  read -r name address <<<"$pair"
  grep -q "\"address\": \"$address:7071\"" <<<"$nodes" ||
    fail "$name should register $address:7071; nodes: $nodes"
  grep -q "\"data_address\": \"$address:[0-9]*\"" <<<"$nodes" ||
    fail "$name's data port should be advertised on $address; nodes: $nodes"
done
! grep -q '"[a-z_]*address": "127\.' <<<"$nodes" || fail "a loopback address was registered: $nodes"

output=$(tgctl_in r1h1 pool 2>&1) || fail "tgctl pool: $output"
graph=$(netns exec r1h1 -- "$bin/examples/tg-example-graph" --controller "$controller" 2>&1) ||
  fail "tg-example-graph: $graph"
grep -q "result OK" <<<"$graph" || fail "tg-example-graph printed a wrong result: $graph"

training=$(netns exec r1h1 -- "$bin/examples/tg-example-mlp" --controller "$controller" \
  --steps 3 2>&1) || fail "data-parallel training over both hosts: $training"

bench=$(tgctl_in r1h1 bench allreduce --devices node-b/0,node-b/1,node-c/0,node-c/1 \
  --min 1K --max 1M --factor 32 --iters 3 --warmup 1 --check 2>&1) || fail "all-reduce: $bench"
awk '!/^#/ && NF { rows++; if ($NF != "0") bad = 1 } END { exit (bad || rows == 0) }' \
  <<<"$bench" || fail "the all-reduce across hosts reported wrong elements: $bench"

set +e
refused=$(netns exec r1h2 -- "$bin/daemon/tgd" --controller "$controller" --listen 127.0.0.1:0 \
  --cpu-devices 1 --state-dir "$work/refused" --name refused --insecure "${daemon_extra[@]}" 2>&1)
status=$?
set -e
[[ $status -eq 2 ]] || fail "a daemon advertising loopback to a remote controller exited $status: $refused"
grep -q -- "--advertise" <<<"$refused" || fail "the refusal should name --advertise: $refused"

echo "multi_host_test: OK"
echo "$bench"
