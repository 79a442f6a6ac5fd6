#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz, libFuzzer) of every decoder, the lifecycle parser and the
# state snapshot reader (fuzz/fuzz_targets), on the stable toolchain with RUSTC_BOOTSTRAP=1 (for
# the sanitizer flags; nightly toolchains cannot be downloaded here).
#
#   scripts/fuzz.sh --minutes N      # N minutes per target: the long run, outside CI
#   scripts/fuzz.sh --seconds N      # N seconds per target: CI's short run (tests/run-all.sh)
#   scripts/fuzz.sh --target NAME    # one target only (repeatable)
#
# Corpora start from fuzz/seeds/<target> (committed) plus every record of the real samples in
# ../shared/data (CloudTrail, and the other formats' shapes) and grow in fuzz/corpus (not
# committed). A crash leaves its input in fuzz/artifacts/<target>/ and fails the run: minimise it
# (`cargo fuzz tmin`), then add it to the regression tests (crates/*/tests/fuzz_regressions.rs),
# which replay every file in fuzz/regressions/ on the stable test suite.
#
# Prints per target: runs, seconds, crashes. Installs cargo-fuzz (pinned) under
# ${CREDENCE_CACHE:-~/.cache/credence}/tools the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
seconds=60
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) seconds=$(($2 * 60)); shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --target) targets+=("$2"); shift 2 ;;
    *) echo "usage: $0 [--minutes N | --seconds N] [--target NAME]..." >&2; exit 64 ;;
  esac
done
VERSION=0.13.1
tools="${CREDENCE_CACHE:-${HOME:-/tmp}/.cache/credence}/tools/cargo-fuzz-$VERSION"
if [ ! -x "$tools/bin/cargo-fuzz" ]; then
  echo "installing cargo-fuzz $VERSION into $tools"
  cargo install --quiet --locked --root "$tools" cargo-fuzz --version "$VERSION"
fi
export PATH="$tools/bin:$PATH"
# Stable rustc accepting -Z flags (the sanitizer and coverage instrumentation cargo-fuzz asks for).
export RUSTC_BOOTSTRAP=1
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list --fuzz-dir fuzz)
fi

# Seeds: the committed ones, and the real samples split into records where they are JSON lines.
data="$root/../shared/data"
for t in "${targets[@]}"; do
  corpus="fuzz/corpus/$t"
  mkdir -p "$corpus"
  [ -d "fuzz/seeds/$t" ] && cp -n fuzz/seeds/"$t"/* "$corpus"/ 2>/dev/null || true
  if [ -d "$data" ]; then
    case "$t" in
      decode_cloudtrail)
        cp -n "$data"/stratus-detonation-logs/*.json "$corpus"/ 2>/dev/null || true
        head -c 1000000 "$data/panther-tests/AWS.CloudTrail.jsonl" | split -l 1 - "$corpus/panther-" ;;
      decode_mapped | decode_kong | decode_envoy | decode_ocsf)
        for f in "$data"/panther-tests/*.jsonl; do
          head -n 20 "$f" | split -l 1 - "$corpus/panther-$(basename "$f" .jsonl)-"
        done ;;
    esac
  fi
done

echo "building the fuzz targets (address sanitizer, release)"
mkdir -p fuzz/artifacts
if ! cargo fuzz build --fuzz-dir fuzz -O >fuzz/artifacts/build.log 2>&1; then
  tail -n 40 fuzz/artifacts/build.log >&2
  exit 1
fi

failed=0
report=()
for t in "${targets[@]}"; do
  log="fuzz/artifacts/$t.log"
  mkdir -p "fuzz/artifacts/$t"
  started=$(date +%s)
  status=0
  cargo fuzz run --fuzz-dir fuzz -O "$t" "fuzz/corpus/$t" -- \
    -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  took=$(($(date +%s) - started))
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n 1)
  crashes=$(find "fuzz/artifacts/$t" -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' -o -name 'leak-*' \) | wc -l)
  report+=("$(printf '%-20s %12s runs %6s s %3s crashes' "$t" "${runs:-?}" "$took" "$crashes")")
  if [ "$status" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    failed=1
    echo "fuzz target $t failed (exit $status); its log: $log" >&2
    tail -n 40 "$log" >&2
  fi
done
printf '\nfuzzing, %s s per target:\n' "$seconds"
printf '  %s\n' "${report[@]}"
exit "$failed"
