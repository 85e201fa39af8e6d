#!/usr/bin/env bash
# Runs docs/deploy.md sections 1-5, 7 and 8 on three simulated hosts (network namespaces made
# by netns.sh beside this file): r1h1 is controller.rack.example, r1h2 node-a.rack.example,
# r1h3 node-b.rack.example. Differences from a real rack, each standing for the guide's step:
#   - the host names are replaced by the namespaces' addresses (no DNS here);
#   - `apt-get install ./PKG.deb` is `dpkg -x PKG.deb HOSTROOT`, and every path the guide
#     names (/etc/tgrack, /usr/bin, ...) is that path under the host's root;
#   - `systemctl enable --now UNIT` runs the unit's own ExecStart line, with the variables of
#     the host's env file, %d the credentials LoadCredential would make, %S a state directory;
#     `systemctl restart` stops and starts it the same way.
# Usage: guide_check.sh BUILD_DIR (with tgd, tgcontroller, tgctl and tg-example-graph built).
# Exit 77 (skipped) naming what is missing: root and namespaces (netns.sh check), cpack or
# dpkg-deb, or a flag the guide uses that these binaries lack.
set -euo pipefail

build=$(cd "${1:?usage: guide_check.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
netns_script="$here/netns.sh"

skip() { echo "guide_check: SKIPPED: $*"; exit 77; }
[[ -x "$netns_script" ]] || skip "$netns_script is missing"
lacking=$("$netns_script" check) || skip "$lacking"
for tool in cpack dpkg-deb openssl ss; do
  command -v "$tool" >/dev/null || skip "$tool is not installed"
done
"$build/daemon/tgd" --help 2>&1 | grep -q -- "--advertise" || skip "tgd has no --advertise"
"$build/daemon/tgd" --help 2>&1 | grep -q -- "--tls-cert" || skip "tgd has no --tls-cert"
"$build/client/tgctl" certs init --help >/dev/null 2>&1 || skip "tgctl has no 'certs init'"

prefix="gc$(( $$ % 100000 ))"
work=$(mktemp -d "${TMPDIR:-/tmp}/tgrack-guide-XXXXXX")
started=()
cleanup() {
  local status=$? pid
  for pid in "${started[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${started[@]}"; do wait "$pid" 2>/dev/null || true; done
  "$netns_script" down --prefix "$prefix" || status=1
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
fail() {
  echo "guide_check: FAILED: $*" >&2
  for log in "$work"/*.log; do
    [[ -e "$log" ]] && { echo "--- $(basename "$log")" >&2; tail -n 20 "$log" >&2; }
  done
  exit 1
}

"$netns_script" up --prefix "$prefix" --hosts 3 >/dev/null
declare -A host_of=([controller]=r1h1 [node-a]=r1h2 [node-b]=r1h3)
declare -A address
for role in controller node-a node-b; do
  address[$role]=$("$netns_script" addr --prefix "$prefix" "${host_of[$role]}")
done
# The guide's host names, as the hosts would resolve them.
names_to_addresses() {
  sed -e "s/controller\.rack\.example/${address[controller]}/g" \
      -e "s/node-a\.rack\.example/${address[node-a]}/g" \
      -e "s/node-b\.rack\.example/${address[node-b]}/g"
}
in_host() { local host=$1; shift; "$netns_script" exec --prefix "$prefix" "$host" -- "$@"; }

echo "== 1. packages"
cpack --config "$build/CPackConfig.cmake" -B "$work/packages" >"$work/cpack.log" 2>&1 ||
  fail "cpack"
version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$build/CPackConfig.cmake")
arch=$(dpkg --print-architecture)
deb() { echo "$work/packages/tgrack-$1_${version}_${arch}.deb"; }

echo "== 2. install"
root() { echo "$work/root-$1"; }
dpkg -x "$(deb controller)" "$(root controller)"
dpkg -x "$(deb client)" "$(root controller)"
for node in node-a node-b; do dpkg -x "$(deb daemon)" "$(root "$node")"; done
dpkg -x "$(deb client)" "$work/workstation"
tgctl="$work/workstation/usr/bin/tgctl"

echo "== 3. addresses"
sed -i "s/^TGCONTROLLER_ADVERTISE=.*/TGCONTROLLER_ADVERTISE=controller.rack.example/" \
  "$(root controller)/etc/tgrack/tgcontroller.env"
for node in node-a node-b; do
  sed -i -e "s/^TGD_CONTROLLER=.*/TGD_CONTROLLER=controller.rack.example:7070/" \
         -e "s/^TGD_NAME=.*/TGD_NAME=$node/" \
         -e "s/^TGD_ADVERTISE=.*/TGD_ADVERTISE=$node.rack.example/" "$(root "$node")/etc/tgrack/tgd.env"
  # Smaller cpu devices than a real host's, so three hosts fit on one test machine.
  sed -i "s/^TGD_DEVICE_MEMORY=.*/TGD_DEVICE_MEMORY=256M/" "$(root "$node")/etc/tgrack/tgd.env"
done
for file in "$(root controller)/etc/tgrack/tgcontroller.env" "$(root node-a)/etc/tgrack/tgd.env" \
    "$(root node-b)/etc/tgrack/tgd.env"; do
  names_to_addresses <"$file" >"$file.new" && mv "$file.new" "$file"
done

echo "== 4. certificates"
certs="$work/pool-certs"
"$tgctl" certs init "$certs" --nodes node-a,node-b \
  --hosts "$(echo controller.rack.example,node-a.rack.example,node-b.rack.example | names_to_addresses)" \
  >"$work/certs.log" 2>&1 || fail "tgctl certs init"
install_certs() {  # ROLE UNIT_STEM CERT_STEM
  local tls; tls="$(root "$1")/etc/tgrack/tls"
  install -d -m 0755 "$tls"
  install -m 0644 "$certs/ca.pem" "$tls/ca.pem"
  install -m 0644 "$certs/$3.pem" "$tls/$2.pem"
  install -m 0600 "$certs/$3.key" "$tls/$2.key"
}
install_certs controller tgcontroller controller
install_certs node-a tgd node-a
install_certs node-b tgd node-b
export TGRACK_TLS_CA="$certs/ca.pem" TGRACK_TLS_CERT="$certs/client.pem" TGRACK_TLS_KEY="$certs/client.key"
controller="${address[controller]}:7070"
export TGRACK_CONTROLLER="$controller"

echo "== 5. start"
declare -A pid_of
# systemctl enable --now UNIT on ROLE's host: the unit's ExecStart with its env file.
start_unit() {
  local role=$1 unit=$2 hostroot; hostroot=$(root "$1")
  local unit_file="$hostroot/usr/lib/systemd/system/$unit.service"
  local creds="$work/credentials-$role" line
  mkdir -p "$creds" "$work/state-$role"
  # LoadCredential=ID:PATH copies PATH to %d/ID.
  while IFS=: read -r id path; do
    cp "$hostroot$path" "$creds/$id"
  done < <(sed -n 's/^LoadCredential=//p' "$unit_file")
  line=$(sed -n '/^ExecStart=/,/[^\\]$/p' "$unit_file" | sed 's/^ExecStart=//; s/\\$//' | tr '\n' ' ')
  line=${line//%d/$creds}
  line=${line//%S/$work/state-$role}
  line=${line/\/usr\/bin\//$hostroot/usr/bin/}
  local -a argv
  # The env file's variables, expanded as systemd does ($VAR split on spaces).
  eval "$(set -a; source "$hostroot/etc/tgrack/$unit.env"; set +a; \
          eval "argv=($line)"; declare -p argv)"
  in_host "${host_of[$role]}" "${argv[@]}" >>"$work/$role.log" 2>&1 &
  pid_of[$role]=$!
  started+=($!)
}
start_unit controller tgcontroller
# The first start writes the admin token into the unit's state directory; tgctl shows it.
admin_token="$work/state-controller/tgcontroller/admin-token"
for _ in $(seq 300); do [ -s "$admin_token" ] && break; sleep 0.1; done
[ -s "$admin_token" ] || fail "tgcontroller wrote no admin token to $admin_token within 30 s"
export TGRACK_TOKEN_FILE="$admin_token"
start_unit node-a tgd
start_unit node-b tgd

# Until `tgctl nodes` shows COUNT nodes UP and none else (30 s at most).
wait_nodes_up() {
  local want=$1 up=0 deadline=$(( SECONDS + 30 ))
  while (( SECONDS < deadline )); do
    up=$(in_host r1h1 "$tgctl" nodes 2>/dev/null |
         awk '/ UP/ { n++ } END { print n + 0 }') || true
    (( up == want )) && return 0
    sleep 0.2
  done
  fail "expected $want nodes UP within 30 s, saw $up"
}
wait_nodes_up 2
in_host r1h1 "$(root controller)/usr/bin/tg-example-graph" --controller "$controller" \
  >"$work/example.log" 2>&1 || fail "tg-example-graph"

echo "== 7. upgrade node-a"
in_host r1h1 "$tgctl" drain node-a --deadline 5m \
  >"$work/drain.log" 2>&1 || fail "tgctl drain node-a"
kill -TERM "${pid_of[node-a]}"
# systemctl stop returns once the unit's process is gone.
for _ in $(seq 100); do kill -0 "${pid_of[node-a]}" 2>/dev/null || break; sleep 0.1; done
kill -0 "${pid_of[node-a]}" 2>/dev/null && fail "tgd on node-a still runs 10 s after SIGTERM"
wait "${pid_of[node-a]}" 2>/dev/null || true
# The upgrade: the package's files again, but for the conffiles (/etc/tgrack), which dpkg keeps
# (tests/deploy/package_test.sh checks they are conffiles).
dpkg -x "$(deb daemon)" "$work/upgrade"
# dpkg replaces files by renaming new ones over them; --remove-destination does the same.
cp -a --remove-destination "$work/upgrade/usr/." "$(root node-a)/usr/"
start_unit node-a tgd
wait_nodes_up 2
in_host r1h1 "$tgctl" uncordon node-a \
  >"$work/uncordon.log" 2>&1 || fail "tgctl uncordon node-a"
in_host r1h1 "$(root controller)/usr/bin/tg-example-graph" --controller "$controller" \
  >>"$work/example.log" 2>&1 || fail "tg-example-graph after the upgrade"

echo "== 8. checks on a node"
listening=$(in_host r1h2 ss -ltn)
for port in 7071 7072 9464; do
  grep -q ":$port " <<<"$listening" || fail "node-a listens on no port $port: $listening"
done
openssl x509 -in "$(root node-a)/etc/tgrack/tls/tgd.pem" -noout -enddate -subject \
  -ext subjectAltName >"$work/x509.log" 2>&1 || fail "openssl x509 on node-a's certificate"
grep -q "${address[node-a]}" "$work/x509.log" || fail "node-a's certificate lacks its address"

echo "guide_check: the guide's commands passed on three hosts"
