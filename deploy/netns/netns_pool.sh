# Sourced by the namespace tests and bench/racks.sh: a pool of real tgcontroller and tgd
# processes, each in its own simulated host (netns.sh beside this file), started with the
# flags of deploy/systemd's units and the documented ports (controller 7070, daemon 7071,
# metrics 9465 and 9464), speaking mutual TLS with certificates from `tgctl certs init`
# (TGRACK_INSECURE=1: plain text). Extra flags for every binary come from
# TGCONTROLLER_EXTRA_FLAGS, TGD_EXTRA_FLAGS and TGCTL_EXTRA_FLAGS.
#
#   pool_init NAME BUILD_DIR   a unique prefix, a scratch directory, the cleanup trap; exits
#                              77 naming what is missing when namespaces cannot be made
#   netns ARGS...              netns.sh with this pool's prefix
#   pool_certs NODE...         after `netns up`: a CA and certificates for the controller, the
#                              named nodes and tgctl, valid for every host's address
#   start_controller HOST      tgcontroller in HOST (e.g. r1h1); sets $controller
#   start_daemon HOST NAME [FLAG...]   tgd in HOST with $devices_per_daemon cpu devices (1)
#                              of $device_memory each (256M)
#   tgctl_in HOST ARGS...      tgctl inside HOST against $controller
#   wait_nodes_up COUNT        until `tgctl nodes` shows COUNT nodes UP (30 s at most)
#   fail MESSAGE               prints the daemons' logs and exits 1
# On exit, whatever happened, every process started here is killed and every namespace of the
# prefix removed.

set -euo pipefail

pool_init() {
  test_name="$1"
  bin="$2"
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  netns_script="$here/netns.sh"
  local lacking
  if ! lacking=$("$netns_script" check); then
    echo "$test_name: SKIPPED: $lacking"
    exit 77
  fi
  # Letters and digits only, unique per run: the pid and a random number.
  prefix="tg$(( $$ % 100000 ))$(( RANDOM % 10 ))"
  work=$(mktemp -d "${TMPDIR:-/tmp}/$test_name.XXXXXX")
  started=()
  trap pool_cleanup EXIT
  trap 'exit 1' INT TERM
  read -r -a controller_extra <<<"${TGCONTROLLER_EXTRA_FLAGS:-}"
  read -r -a daemon_extra <<<"${TGD_EXTRA_FLAGS:-}"
  read -r -a tgctl_extra <<<"${TGCTL_EXTRA_FLAGS:-}"
}

pool_cleanup() {
  local status=$?
  local pid
  for pid in "${started[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  local deadline=$(( SECONDS + 10 ))
  for pid in "${started[@]}"; do
    while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  "$netns_script" down --prefix "$prefix" || status=1
  if ip netns list | grep -q "^$prefix-"; then
    echo "$test_name: namespaces of $prefix left behind" >&2
    status=1
  fi
  rm -rf "$work"
  exit "$status"
}

netns() { "$netns_script" "$1" --prefix "$prefix" "${@:2}"; }

pool_certs() {
  if [[ ${TGRACK_INSECURE:-} == 1 ]]; then
    controller_extra+=(--insecure)
    return
  fi
  certs="$work/certs"
  local nodes hosts
  nodes=$(IFS=,; echo "$*")
  hosts=$(netns hosts | awk '{ printf "%s,", $3 } END { printf "localhost,127.0.0.1" }')
  "$bin/client/tgctl" certs init "$certs" --nodes "$nodes" --hosts "$hosts" >/dev/null
  controller_extra+=(--tls-cert "$certs/controller.pem" --tls-key "$certs/controller.key"
                     --tls-ca "$certs/ca.pem")
  export TGRACK_TLS_CA="$certs/ca.pem" TGRACK_TLS_CERT="$certs/client.pem"
  export TGRACK_TLS_KEY="$certs/client.key"
}

# The TLS flags of node NAME (or --insecure).
node_security() {
  if [[ -z ${certs:-} ]]; then
    echo --insecure
  else
    echo --tls-cert "$certs/$1.pem" --tls-key "$certs/$1.key" --tls-ca "$certs/ca.pem"
  fi
}

fail() {
  echo "$test_name: FAILED: $*" >&2
  local log
  for log in "$work"/*.log; do
    [[ -e "$log" ]] || continue
    echo "--- $(basename "$log") (last 20 lines)" >&2
    tail -n 20 "$log" >&2
  done
  exit 1
}

start_controller() {
  local host="$1"
  local address
  address=$(netns addr "$host")
  # netns.sh execs the program: $! is its pid.
  "$netns_script" exec --prefix "$prefix" "$host" -- "$bin/controller/tgcontroller" --listen 0.0.0.0:7070 \
    --metrics 0.0.0.0:9465 --advertise "$address" "${controller_extra[@]}" \
    --bootstrap-admin-token-file "$work/admin-token" >"$work/controller.log" 2>&1 &
  started+=($!)
  controller="$address:7070"
  controller_host="$host"
  # tgctl and the examples run as the admin, once the controller has written its token.
  local waited
  for waited in $(seq 300); do [[ -s "$work/admin-token" ]] && break; sleep 0.1; done
  [[ -s "$work/admin-token" ]] || fail "tgcontroller wrote no admin token within 30 s"
  export TGRACK_TOKEN_FILE="$work/admin-token"
}

start_daemon() {
  local host="$1" name="$2"
  shift 2
  "$netns_script" exec --prefix "$prefix" "$host" -- "$bin/daemon/tgd" \
    --controller "$controller" --cpu-devices "${devices_per_daemon:-1}" \
    --device-memory "${device_memory:-256M}" --state-dir "$work/$name" --name "$name" \
    --metrics 0.0.0.0:9464 $(node_security "$name") "$@" "${daemon_extra[@]}" \
    >"$work/$name.log" 2>&1 &
  started+=($!)
}

tgctl_in() {
  local host="$1"
  shift
  netns exec "$host" -- "$bin/client/tgctl" --controller "$controller" "${tgctl_extra[@]}" "$@"
}

wait_nodes_up() {
  local want="$1" up=0
  local deadline=$(( SECONDS + 30 ))
  while (( SECONDS < deadline )); do
    # A tgctl that fails (no controller yet) counts none; it must not end the script.
    up=$(tgctl_in "$controller_host" nodes 2>/dev/null | awk '$0 ~ / UP/ { n++ } END { print n + 0 }') || true
    (( up == want )) && return 0
    sleep 0.2
  done
  fail "expected $want nodes UP within 30 s, saw $up"
}
