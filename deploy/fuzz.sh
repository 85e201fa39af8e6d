#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer into their own build directory, then runs each for a bounded
# time over its seed corpus. Exits non-zero when a target crashes; the input that did it is
# left in $FUZZ_BUILD_DIR/crashes/<target>/.
#
#   deploy/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]    (default 30 s, every target)
#
# FUZZ_SEED fixes libFuzzer's random seed, so that a run (CI's) can be repeated exactly.
# FUZZ_BUILD_DIR (default ./build-fuzz) keeps the build and each target's grown corpus
# (corpus/<target>/) between runs, so later runs start where earlier ones stopped.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
shift || true
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  targets=(graph_validate_fuzz planner_fuzz tcp_handshake_fuzz services_fuzz)
fi
build=${FUZZ_BUILD_DIR:-build-fuzz}
jobs=${FUZZ_BUILD_JOBS:-2}

launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  CC=clang CXX=clang++ cmake -S . -B "$build" -DTGRACK_FUZZ=ON -DBUILD_TESTING=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" "${launcher[@]}"
fi
cmake --build "$build" -j "$jobs" --target "${targets[@]}"

# Seeds: text-format protos (the first line of a services seed names its request type, the
# file name starts with the method's number) encoded here; handshake seeds are raw bytes.
encode() {  # encode TYPE < text > binary
  protoc -I proto --encode="$1" proto/tgrack/v1/*.proto
}
make_seeds() {  # make_seeds TARGET DIR
  local target=$1 out=$2 source
  rm -rf "$out" && mkdir -p "$out"
  for source in tests/fuzz/corpus/"${target%_fuzz}"/*; do
    local name
    name=$(basename "$source" .textproto)
    case $target in
      graph_validate_fuzz) encode tgrack.v1.Graph < "$source" > "$out/$name" ;;
      planner_fuzz) encode tgrack.v1.SubmitRequest < "$source" > "$out/$name" ;;
      services_fuzz)
        local method=$((10#${name%%-*})) token=${name#*-}
        token=$((10#${token%%-*}))
        { printf "\\x$(printf %02x "$method")\\x$(printf %02x "$token")"
          encode "$(head -1 "$source" | cut -c3-)" < "$source"; } > "$out/$name" ;;
      *) cp "$source" "$out/$name" ;;
    esac
  done
}

failed=()
for target in "${targets[@]}"; do
  seeds="$build/seeds/$target"
  corpus="$build/corpus/$target"
  crashes="$build/crashes/$target"
  make_seeds "$target" "$seeds"
  mkdir -p "$corpus" "$crashes"
  leaks=1
  # The in-process pool and the listener keep threads and buffers alive between inputs.
  [[ $target == services_fuzz || $target == tcp_handshake_fuzz ]] && leaks=0
  echo "fuzz: $target for ${seconds}s"
  status=0
  seed=()
  [[ -n ${FUZZ_SEED:-} ]] && seed=(-seed="$FUZZ_SEED")
  "$build/tests/fuzz/$target" "${seed[@]}" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 \
    -detect_leaks=$leaks -print_final_stats=1 -artifact_prefix="$crashes/" \
    "$corpus" "$seeds" > "$build/$target.log" 2>&1 || status=$?
  grep -E "^(#[0-9]+ +DONE|==[0-9]+==ERROR|SUMMARY|stat::number_of_executed_units|artifact_prefix)" \
    "$build/$target.log" || true
  if [[ $status -ne 0 ]]; then
    tail -n 40 "$build/$target.log"
    failed+=("$target")
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: FAILED: ${failed[*]} (inputs in $build/crashes/, logs in $build/<target>.log)"
  exit 1
fi
echo "fuzz: every target ran ${seconds}s without a crash"
