#!/usr/bin/env bash
# Starts a loopback pool for benchmarks: tgcontroller and DAEMONS tgd with DEVICES cpu devices
# each, runs the given command with TGRACK_CONTROLLER set, then stops everything it started.
# The pool speaks mutual TLS (certificates from tgctl certs init; the command gets TGRACK_TLS_*),
# or plain text when TGRACK_INSECURE=1. TGD_ARGS holds extra tgd flags (e.g. --data-tls).
#   bench/pool.sh BIN_DIR DAEMONS DEVICES -- COMMAND...
set -euo pipefail
bin=$1 daemons=$2 devices=$3
shift 3
[[ ${1:-} == -- ]] && shift
work=$(mktemp -d -t tgrack-bench-XXXXXX)
children=()

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
  [[ $status -ne 0 ]] && tail -n 20 "$work"/*.log >&2
  rm -rf "$work"
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start() {
  local name=$1
  shift
  setsid "$@" >"$work/$name.log" 2>&1 &
  children+=($!)
}
wait_port_file() {
  for _ in $(seq 200); do
    [[ -s $1 ]] && { cat "$1"; return 0; }
    sleep 0.1
  done
  echo "pool: no address in $1" >&2
  return 1
}

nodes=$(seq -f 'node%g' -s , "$daemons")
if [[ ${TGRACK_INSECURE:-} == 1 ]]; then
  tls() { echo --insecure; }
else
  "$bin/client/tgctl" certs init "$work/certs" --nodes "$nodes" >/dev/null
  export TGRACK_TLS_CA=$work/certs/ca.pem TGRACK_TLS_CERT=$work/certs/client.pem \
    TGRACK_TLS_KEY=$work/certs/client.key
  tls() { echo --tls-ca "$work/certs/ca.pem" --tls-cert "$work/certs/$1.pem" --tls-key "$work/certs/$1.key"; }
fi

start controller "$bin/controller/tgcontroller" --listen 127.0.0.1:0 --port-file "$work/controller.port" \
  --bootstrap-admin-token-file "$work/admin-token" $(tls controller)
export TGRACK_CONTROLLER=$(wait_port_file "$work/controller.port")
export TGRACK_TOKEN_FILE=$work/admin-token  # The command runs as the pool's admin.
for i in $(seq "$daemons"); do
  start "node$i" "$bin/daemon/tgd" --controller "$TGRACK_CONTROLLER" --listen 127.0.0.1:0 \
    --data-listen 127.0.0.1:0 --cpu-devices "$devices" --device-memory 2G --worker-threads 1 \
    --state-dir "$work/node$i" --name "node$i" --port-file "$work/node$i.port" $(tls "node$i") \
    ${TGD_ARGS:-}
  wait_port_file "$work/node$i.port" >/dev/null
done
for _ in $(seq 200); do
  up=$("$bin/client/tgctl" nodes --json | grep -c '"state": "up"' || true)
  [[ $up -eq $daemons ]] && break
  sleep 0.1
done
"$@"
