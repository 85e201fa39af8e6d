#!/usr/bin/env bash
# The Debian packages as an operator gets them: cpack builds them from the binaries already
# built in BUILD_DIR, dpkg -x unpacks them into a scratch root, and then
#   - the names and control fields: tgrack-{daemon,controller,client}_VERSION_ARCH.deb,
#     runtime dependencies only (no -dev package, no ROCm library outside tgrack-hip),
#     the env files under /etc/tgrack listed as conffiles, no maintainer script that could
#     enable or start a unit;
#   - every file in its FHS place, and the installed binaries run from the scratch root;
#   - the installed tgd looks for the HIP plugin next to itself (usr/lib/tgrack) and, without
#     it, refuses --backend hip with a line naming the plugin;
#   - systemd-analyze verify accepts the installed units, run against the installed binaries.
# Usage: package_test.sh BUILD_DIR VERSION. Exit 77 (skipped) naming what is missing when
# cpack, dpkg-deb or dpkg-shlibdeps is not installed.
set -euo pipefail

build=${1:?usage: package_test.sh BUILD_DIR VERSION}
version=${2:?usage: package_test.sh BUILD_DIR VERSION}
build=$(cd "$build" && pwd)

for tool in cpack dpkg-deb dpkg-shlibdeps; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: $tool is not installed (Debian packages cmake, dpkg, dpkg-dev)"
    exit 77
  fi
done

scratch=$(mktemp -d "${TMPDIR:-/tmp}/tgrack-package-XXXXXX")
trap 'rm -rf "$scratch"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
expect_contains() {  # TEXT NEEDLE WHAT
  [[ "$1" == *"$2"* ]] || fail "$3: expected '$2' in: $1"
}

echo "== cpack"
if ! cpack --config "$build/CPackConfig.cmake" -B "$scratch/out" >"$scratch/cpack.log" 2>&1; then
  cat "$scratch/cpack.log"
  fail "cpack failed"
  exit 1
fi
arch=$(dpkg --print-architecture)
root="$scratch/root"
for package in tgrack-daemon tgrack-controller tgrack-client; do
  deb="$scratch/out/${package}_${version}_${arch}.deb"
  if [[ ! -f "$deb" ]]; then
    fail "no $(basename "$deb"); cpack made: $(cd "$scratch/out" && ls ./*.deb)"
    continue
  fi
  depends=$(dpkg-deb -f "$deb" Depends)
  echo "$package Depends: $depends"
  [[ "$depends" != *-dev* ]] || fail "$package depends on a build package: $depends"
  [[ "$depends" != *amdhip* && "$depends" != *rocm* ]] ||
    fail "$package depends on ROCm: $depends"
  mkdir -p "$scratch/control/$package"
  dpkg-deb -e "$deb" "$scratch/control/$package"
  for script in postinst preinst prerm postrm; do
    [[ ! -e "$scratch/control/$package/$script" ]] ||
      fail "$package has a $script script (units must stay disabled until the operator enables them)"
  done
  dpkg-deb -x "$deb" "$root"
done
expect_contains "$(dpkg-deb -f "$scratch/out/tgrack-daemon_${version}_${arch}.deb" Depends)" \
  "libgrpc++" "tgrack-daemon's dependencies"
expect_contains "$(dpkg-deb -f "$scratch/out/tgrack-daemon_${version}_${arch}.deb" Depends)" \
  "libopenblas0" "tgrack-daemon's dependencies"
expect_contains "$(cat "$scratch/control/tgrack-daemon/conffiles")" "/etc/tgrack/tgd.env" \
  "tgrack-daemon's conffiles"
expect_contains "$(cat "$scratch/control/tgrack-controller/conffiles")" \
  "/etc/tgrack/tgcontroller.env" "tgrack-controller's conffiles"

echo "== files"
for file in usr/bin/tgd usr/bin/tgcontroller usr/bin/tgctl usr/bin/tg-example-graph \
    usr/lib/systemd/system/tgd.service usr/lib/systemd/system/tgcontroller.service \
    etc/tgrack/tgd.env etc/tgrack/tgcontroller.env \
    usr/share/tgrack/prometheus/prometheus.yml usr/share/tgrack/prometheus/alerts.yml \
    usr/share/tgrack/grafana/tgrack.json usr/share/doc/tgrack/deploy.md; do
  [[ -e "$root/$file" ]] || fail "/$file is not installed"
done
for binary in tgd tgcontroller tgctl; do
  [[ ! -e "$root/usr/bin/$binary" ]] && continue
  if ! "$root/usr/bin/$binary" --help >"$scratch/help.txt" 2>&1; then
    fail "installed $binary --help failed: $(cat "$scratch/help.txt")"
  fi
  # --version: every binary prints "NAME VERSION" (the CLI's convention).
  if "$root/usr/bin/$binary" --version >"$scratch/version.txt" 2>&1; then
    [[ "$(head -n1 "$scratch/version.txt")" == "$binary $version" ]] ||
      fail "$binary --version says '$(head -n1 "$scratch/version.txt")', expected '$binary $version'"
  else
    echo "NOTE: $binary has no --version yet: $(head -n1 "$scratch/version.txt")"
  fi
done

echo "== HIP plugin place"
if [[ -e "$root/usr/bin/tgd" ]]; then
  set +e
  "$root/usr/bin/tgd" --backend hip --controller 127.0.0.1:1 --insecure --state-dir "$scratch/state" \
    >"$scratch/hip.txt" 2>&1 </dev/null
  status=$?
  set -e
  [[ $status -ne 0 ]] || fail "tgd --backend hip without the plugin exited 0"
  expect_contains "$(cat "$scratch/hip.txt")" \
    "hip backend: plugin $root/usr/lib/tgrack/libtgrack-hip.so is not installed" \
    "installed tgd --backend hip without tgrack-hip"
fi
# Where the HIP backend is built, tgrack-hip holds the plugin and the ROCm dependencies, and
# the installed tgd finds it. Without a GPU it then says so, past loading the plugin.
hip_deb="$scratch/out/tgrack-hip_${version}_${arch}.deb"
if [[ -f "$hip_deb" && -e "$root/usr/bin/tgd" ]]; then
  expect_contains "$(dpkg-deb -f "$hip_deb" Depends)" "libamdhip64" "tgrack-hip's dependencies"
  dpkg-deb -x "$hip_deb" "$root"
  [[ -e "$root/usr/lib/tgrack/libtgrack-hip.so" ]] || fail "/usr/lib/tgrack/libtgrack-hip.so is not installed"
  if [[ ! -e /dev/kfd ]]; then
    set +e
    "$root/usr/bin/tgd" --backend hip --controller 127.0.0.1:1 --insecure --state-dir "$scratch/state" \
      >"$scratch/hip.txt" 2>&1 </dev/null
    set -e
    expect_contains "$(cat "$scratch/hip.txt")" "hip backend: no AMD GPU found" \
      "installed tgd --backend hip with tgrack-hip, on a host without a GPU"
  fi
else
  echo "NOTE: no tgrack-hip package (the HIP backend is not built here)"
fi

echo "== systemd-analyze verify"
if ! command -v systemd-analyze >/dev/null; then
  echo "SKIP: systemd-analyze is not installed (Debian package systemd): units not verified"
else
  for unit in tgd tgcontroller; do
    # verify insists that ExecStart's binary exists: point it at the unpacked one.
    sed "s|/usr/bin/$unit |$root/usr/bin/$unit |" \
      "$root/usr/lib/systemd/system/$unit.service" >"$scratch/$unit.service"
    grep -q "ExecStart=$root/usr/bin/$unit " "$scratch/$unit.service" ||
      fail "$unit.service does not start /usr/bin/$unit"
    if ! systemd-analyze verify "$scratch/$unit.service" >"$scratch/verify.txt" 2>&1 ||
        [[ -s "$scratch/verify.txt" ]]; then
      fail "systemd-analyze verify $unit.service: $(cat "$scratch/verify.txt")"
    fi
  done
fi

if [[ $failures -ne 0 ]]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "package_test: all checks passed"
