#!/usr/bin/env bash
# Simulated hosts and racks on one machine, from network namespaces (needs root and iproute2).
#
#   netns.sh check                                  exit 0 when namespaces can be made here;
#                                                   else prints what is missing, exit 77
#   netns.sh up --prefix P [--racks R] [--hosts H] [--host-rate RATE] [--uplink-rate RATE]
#               [--mtu BYTES]                       builds R racks of H hosts (default 1 x 3)
#   netns.sh down --prefix P                        kills every process left in P's namespaces
#                                                   and removes them (and so every link)
#   netns.sh hosts --prefix P                       one line per host: NAME RACK ADDRESS
#   netns.sh addr --prefix P HOST                   the address of HOST (e.g. r1h2)
#   netns.sh exec --prefix P HOST -- CMD [ARG...]   runs CMD inside HOST's namespace
#
# Layout. Host H of rack R is namespace P-rRhH, with loopback up and eth0 at 10.77.R.H/16.
# Every bridge lives in one more namespace, P-sw (nothing touches the caller's namespace, and
# only these namespaces carry the traffic): rack R's bridge rackR joins its hosts, and the veth
# pair upR/spR joins it to the bridge spine, so traffic between racks crosses two uplinks.
# Shaping (tc tbf, both directions): --host-rate on every host's link, --uplink-rate on every
# rack uplink; RATE as tc reads it (e.g. 2gbit, 500mbit). Without them links are unshaped.
# --mtu sets every link's MTU (default 1500; 9000 = jumbo frames, as rack fabrics run them:
# headers then take under 1% of a shaped link instead of 4%).
#
# Every name starts with P (letters and digits, at most 8), so parallel runs with their own
# prefixes never collide. `up` removes what it made when it fails half way.
set -Eeuo pipefail

die() { echo "netns.sh: $*" >&2; exit 2; }

usage() { sed -n '2,/^set -Eeuo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

prefix=""
racks=1
hosts=3
host_rate=""
uplink_rate=""
mtu=1500

subnet="10.77"

parse_common() {
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --prefix) prefix="${2:?--prefix needs a value}"; shift 2 ;;
      --racks) racks="${2:?--racks needs a value}"; shift 2 ;;
      --hosts) hosts="${2:?--hosts needs a value}"; shift 2 ;;
      --host-rate) host_rate="${2:?--host-rate needs a value}"; shift 2 ;;
      --uplink-rate) uplink_rate="${2:?--uplink-rate needs a value}"; shift 2 ;;
      --mtu) mtu="${2:?--mtu needs a value}"; shift 2 ;;
      --) shift; rest+=("$@"); return ;;
      -*) die "unknown flag $1" ;;
      *) rest+=("$1"); shift ;;
    esac
  done
}

check_prefix() {
  [[ -n "$prefix" ]] || die "--prefix is required"
  [[ "$prefix" =~ ^[A-Za-z][A-Za-z0-9]{0,7}$ ]] ||
    die "--prefix '$prefix': letters and digits, starting with a letter, at most 8"
}

# What this machine lacks to make namespaces, bridges, veth pairs and shapers; "" = nothing.
missing() {
  if [[ $(id -u) -ne 0 ]]; then echo "root (running as uid $(id -u))"; return; fi
  if ! command -v ip >/dev/null; then echo "the ip command (Debian package iproute2)"; return; fi
  if ! command -v tc >/dev/null; then echo "the tc command (Debian package iproute2)"; return; fi
  local probe="tgprobe$$"
  if ! ip netns add "$probe" 2>/dev/null; then echo "permission to create network namespaces"; return; fi
  local why=""
  if ! ip -n "$probe" link add b0 type bridge 2>/dev/null; then
    why="bridge support in the kernel"
  elif ! ip -n "$probe" link add v0 type veth peer name v1 2>/dev/null; then
    why="veth support in the kernel"
  elif ! ip netns exec "$probe" tc qdisc add dev v0 root tbf rate 1gbit burst 128kb latency 50ms \
         2>/dev/null; then
    why="the tbf queueing discipline (kernel module sch_tbf)"
  fi
  ip netns del "$probe" 2>/dev/null || true
  echo "$why"
}

namespaces() { ip netns list | awk '{print $1}' | grep -E "^${prefix}-(sw|r[0-9]+h[0-9]+)$" || true; }

host_address() {  # rRhH -> 10.77.R.H
  [[ "$1" =~ ^r([0-9]+)h([0-9]+)$ ]] || die "host '$1' is not rRhH (e.g. r1h2)"
  echo "${subnet}.${BASH_REMATCH[1]}.${BASH_REMATCH[2]}"
}

# tbf on DEVICE in namespace NS at RATE; the bucket holds 1 ms at that rate (at least 128 KiB,
# so that segmentation-offloaded packets of 64 KiB always fit): a burst that passes at once,
# then the shaped rate, as rate limiters do. The cost model's calibration reads both, from
# 1 MiB probes sent back to back and after a pause.
shape() {
  local ns="$1" device="$2" rate="$3"
  local bits
  case "$rate" in
    *gbit) bits=$(( ${rate%gbit} * 1000000000 )) ;;
    *mbit) bits=$(( ${rate%mbit} * 1000000 )) ;;
    *kbit) bits=$(( ${rate%kbit} * 1000 )) ;;
    *) die "rate '$rate': give it as NUMBER followed by gbit, mbit or kbit" ;;
  esac
  local burst=$(( bits / 8 / 1000 ))
  (( burst >= 131072 )) || burst=131072
  ip netns exec "$ns" tc qdisc replace dev "$device" root tbf rate "$rate" burst "$burst" \
    latency 100ms
}

up() {
  check_prefix
  [[ "$racks" =~ ^[1-9][0-9]?$ ]] || die "--racks '$racks': 1 to 99"
  [[ "$hosts" =~ ^[1-9][0-9]?$ ]] || die "--hosts '$hosts': 1 to 99"
  [[ "$mtu" =~ ^[0-9]+$ ]] && (( mtu >= 576 && mtu <= 65535 )) || die "--mtu '$mtu': 576 to 65535"
  local lacking
  lacking=$(missing)
  [[ -z "$lacking" ]] || { echo "netns.sh: cannot make namespaces here: needs $lacking" >&2; exit 77; }
  [[ -z "$(namespaces)" ]] || die "namespaces of prefix '$prefix' exist already; run down first"

  trap 'echo "netns.sh: up failed; removing what it made" >&2; down' ERR
  trap 'echo "netns.sh: up interrupted; removing what it made" >&2; down; exit 1' INT TERM
  local sw="${prefix}-sw"
  ip netns add "$sw"
  ip -n "$sw" link set lo up
  if (( racks > 1 )); then
    ip -n "$sw" link add spine type bridge
    ip -n "$sw" link set spine up
  fi
  local r h
  for (( r = 1; r <= racks; r++ )); do
    ip -n "$sw" link add "rack$r" type bridge
    ip -n "$sw" link set "rack$r" up
    if (( racks > 1 )); then
      ip -n "$sw" link add "up$r" mtu "$mtu" type veth peer name "sp$r" mtu "$mtu"
      ip -n "$sw" link set "up$r" master "rack$r" up
      ip -n "$sw" link set "sp$r" master spine up
      if [[ -n "$uplink_rate" ]]; then
        shape "$sw" "up$r" "$uplink_rate"
        shape "$sw" "sp$r" "$uplink_rate"
      fi
    fi
    for (( h = 1; h <= hosts; h++ )); do
      local name="r${r}h${h}" ns="${prefix}-r${r}h${h}"
      ip netns add "$ns"
      ip -n "$ns" link set lo up
      ip -n "$sw" link add "$name" mtu "$mtu" type veth peer name eth0 netns "$ns" mtu "$mtu"
      ip -n "$sw" link set "$name" master "rack$r" up
      ip -n "$ns" addr add "$(host_address "$name")/16" dev eth0
      ip -n "$ns" link set eth0 up
      if [[ -n "$host_rate" ]]; then
        shape "$ns" eth0 "$host_rate"
        shape "$sw" "$name" "$host_rate"
      fi
    done
  done
  trap - ERR INT TERM
  echo "netns.sh: up: prefix $prefix, $racks rack(s) x $hosts host(s)," \
    "host links ${host_rate:-unshaped}, rack uplinks ${uplink_rate:-unshaped}, mtu $mtu"
}

down() {
  check_prefix
  local ns pids
  local all
  all=$(namespaces)
  for ns in $all; do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [[ -z "$pids" ]] || kill -TERM $pids 2>/dev/null || true
  done
  local deadline=$(( SECONDS + 5 ))
  for ns in $all; do
    while [[ -n "$(ip netns pids "$ns" 2>/dev/null)" ]] && (( SECONDS < deadline )); do
      sleep 0.1
    done
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [[ -z "$pids" ]] || kill -KILL $pids 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
  [[ -z "$(namespaces)" ]] || { echo "netns.sh: down: could not remove $(namespaces)" >&2; exit 1; }
}

list_hosts() {
  check_prefix
  local ns name
  for ns in $(namespaces); do
    name="${ns#"${prefix}"-}"
    [[ "$name" == sw ]] && continue
    [[ "$name" =~ ^r([0-9]+)h ]]
    echo "$name ${BASH_REMATCH[1]} $(host_address "$name")"
  done | sort -V
}

command="${1:-}"
[[ -n "$command" ]] || usage
shift
rest=()
case "$command" in
  check)
    lacking=$(missing)
    if [[ -n "$lacking" ]]; then echo "netns.sh: cannot make namespaces here: needs $lacking"; exit 77; fi
    ;;
  up) parse_common "$@"; up ;;
  down) parse_common "$@"; down ;;
  hosts) parse_common "$@"; list_hosts ;;
  addr) parse_common "$@"; [[ ${#rest[@]} -eq 1 ]] || die "addr takes one HOST"; host_address "${rest[0]}" ;;
  exec)
    parse_common "$@"
    check_prefix
    [[ ${#rest[@]} -ge 2 ]] || die "exec takes HOST -- CMD [ARG...]"
    host="${rest[0]}"
    host_address "$host" >/dev/null
    exec ip netns exec "${prefix}-${host}" "${rest[@]:1}"
    ;;
  -h|--help|help) usage ;;
  *) die "unknown command '$command' (check, up, down, hosts, addr, exec)" ;;
esac
