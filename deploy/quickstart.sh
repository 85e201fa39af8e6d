#!/usr/bin/env bash
# Command 1: installs what is missing, builds, makes the pool's certificates (tgctl certs
# init), starts a pool on loopback speaking mutual TLS — tgcontroller and two tgd with two cpu
# devices each — shows it as the admin (the token the controller makes on first start),
# creates tenant "demo" and, as that tenant, runs an example graph and checks its result,
# trains a small MLP data-parallel over all four devices (the loss must go down), runs a
# checked all-reduce, then stops everything it started (also on failure or Ctrl-C). Builds into ./build, or into
# $BUILD_DIR when set.
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/install-deps.sh
deploy/build.sh tgcontroller tgd tgctl tg-example-graph tg-example-mlp

bin=${BUILD_DIR:-build}
work=$(mktemp -d -t tgrack-quickstart-XXXXXX)
children=()

# Stops one child's whole process group: SIGTERM, up to 5 s to exit, then SIGKILL; reaps it.
stop_child() {
  local pid=$1
  kill -TERM -- "-$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    local state
    state=$(ps -o stat= -p "$pid" 2>/dev/null || true)
    [[ -z $state || $state == Z* ]] && break
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local status=$?
  for ((i = ${#children[@]} - 1; i >= 0; i--)); do stop_child "${children[$i]}"; done
  if [[ $status -ne 0 ]]; then
    echo "quickstart: FAILED; logs:" >&2
    tail -n 20 "$work"/*.log >&2 || true
  fi
  rm -rf "$work"
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts a command as the leader of its own process group (setsid), logging to $work/NAME.log.
start() {
  local name=$1
  shift
  setsid "$@" >"$work/$name.log" 2>&1 &
  children+=($!)
}

# Waits up to 20 s for a port file; fails early if the child that writes it has exited.
wait_port_file() {
  local file=$1 pid=$2
  for _ in $(seq 200); do
    if [[ -s $file ]]; then cat "$file"; return 0; fi
    local state
    state=$(ps -o stat= -p "$pid" 2>/dev/null || true)
    if [[ -z $state || $state == Z* ]]; then echo "quickstart: process $pid exited early" >&2; return 1; fi
    sleep 0.1
  done
  echo "quickstart: no address in $file after 20 s" >&2
  return 1
}

# Every gRPC port speaks mutual TLS: a CA, and certificates for the controller, each node and
# the client programs below (tgctl and the examples read TGRACK_TLS_*).
certs="$work/certs"
"$bin/client/tgctl" certs init "$certs" --nodes node-a,node-b >/dev/null
export TGRACK_TLS_CA=$certs/ca.pem TGRACK_TLS_CERT=$certs/client.pem TGRACK_TLS_KEY=$certs/client.key
tls() { echo --tls-ca "$certs/ca.pem" --tls-cert "$certs/$1.pem" --tls-key "$certs/$1.key"; }

start controller "$bin/controller/tgcontroller" --listen 127.0.0.1:0 --port-file "$work/controller.port" \
  --state-dir "$work/controller" $(tls controller)
controller=$(wait_port_file "$work/controller.port" "${children[-1]}")
echo "quickstart: tgcontroller on $controller"
export TGRACK_CONTROLLER=$controller
# The controller made an admin token on its first start (STATE_DIR/admin-token, mode 0600).
export TGRACK_TOKEN_FILE=$work/controller/admin-token

for node in node-a node-b; do
  start "$node" "$bin/daemon/tgd" --controller "$controller" --listen 127.0.0.1:0 \
    --cpu-devices 2 --device-memory 256M --state-dir "$work/$node" --name "$node" \
    --port-file "$work/$node.port" $(tls "$node")
  address=$(wait_port_file "$work/$node.port" "${children[-1]}")
  echo "quickstart: tgd $node on $address"
done

# Both daemons register within a heartbeat or two; wait up to 20 s.
for _ in $(seq 200); do
  up=$("$bin/client/tgctl" nodes --json | grep -c '"state": "up"' || true)
  [[ $up -eq 2 ]] && break
  sleep 0.1
done
echo
"$bin/client/tgctl" nodes
echo
"$bin/client/tgctl" pool
[[ $up -eq 2 ]] || { echo "quickstart: expected 2 nodes UP, saw $up" >&2; exit 1; }
echo

# A tenant for the work below: its token is printed once, here, and kept in a file.
"$bin/client/tgctl" tenants create demo --quota devices=4 --json | awk -F'"' '$2 == "token" { print $4 }' \
  > "$work/demo-token"
[[ -s $work/demo-token ]] || { echo "quickstart: tgctl tenants create printed no token" >&2; exit 1; }
echo "quickstart: created tenant demo; the rest runs as demo"
export TGRACK_TOKEN_FILE=$work/demo-token

status=0
output=$("$bin/examples/tg-example-graph" 2>&1) || status=$?
echo "$output"
if [[ $status -ne 0 ]] || ! grep -q "result OK" <<<"$output"; then
  echo "quickstart: the example graph failed or printed a wrong result" >&2
  exit 1
fi

# --- data-parallel training over every device: one captured step, replayed -------------
echo
if ! "$bin/examples/tg-example-mlp" --steps 10; then
  echo "quickstart: data-parallel training failed" >&2
  exit 1
fi

# --- all-reduce across the pool: 4 ranks over both daemons, every result verified ----------
echo
bench=$("$bin/client/tgctl" bench allreduce --min 1K --max 4M --factor 64 --iters 5 --warmup 1 --check)
echo "$bench"
if ! awk '!/^#/ && NF { rows++; if ($NF != "0") bad = 1 } END { exit (bad || rows == 0) }' <<<"$bench"; then
  echo "quickstart: the all-reduce reported wrong elements" >&2
  exit 1
fi

# What demo used, from the controller's ledger (jobs are recorded as daemons report them).
echo
"$bin/client/tgctl" usage

echo
echo "quickstart: OK"
