#!/usr/bin/env bash
# The load benchmark (benches/load.rs, docs/BENCHMARKS.md): Credence through a real Kafka broker
# beside a bare rdkafka consumer on the same topic, beside River's HalfSpaceTrees on the same
# events, and its memory and speed against the number of resident credentials. Builds, starts the
# broker if needed, installs the peer's Python (a venv outside the repository), runs, writes
# target/bench-load*/report.json, prints the table and draws the plot.
#
#   bash scripts/bench-load.sh              full run: 5M events (about 15 minutes on 2 cores);
#                                           the plot goes to docs/benchmarks/
#   bash scripts/bench-load.sh --smoke      CI: 50k events, 10k credentials; fails if any phase
#                                           does not work
#   bash scripts/bench-load.sh [--smoke] [options of the bench]   e.g. --events 2000000
#                                           (cargo bench --bench load -- --help lists them)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

# The peer's packages, pinned (both install on Python 3.11).
RIVER_VERSION=0.26.1
MATPLOTLIB_VERSION=3.11.2

mode=full
args=()
for a in "$@"; do
  case "$a" in
    --smoke) mode=smoke ;;
    *) args+=("$a") ;;
  esac
done

step() { printf '\n==> %s\n' "$*"; }

cache="${CREDENCE_CACHE:-${HOME:-/tmp}/.cache/credence}"
venv="$cache/venv-bench"
step "python venv for the peer: $venv (river $RIVER_VERSION, matplotlib $MATPLOTLIB_VERSION)"
stamp="$venv/.credence-bench-$RIVER_VERSION-$MATPLOTLIB_VERSION"
if [[ ! -f "$stamp" ]]; then
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
  fi
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "river==$RIVER_VERSION" "matplotlib==$MATPLOTLIB_VERSION"
  touch "$stamp"
fi
"$venv/bin/python" -c 'import river, matplotlib; print("river", river.__version__, "matplotlib", matplotlib.__version__)'

step "kafka broker"
bash tests/kafka/kafka.sh fetch
if ! bash tests/kafka/kafka.sh status >/dev/null 2>&1; then
  bash tests/kafka/kafka.sh start
  # Started here: stopped again at the end.
  trap 'bash "$root/tests/kafka/kafka.sh" stop >/dev/null 2>&1 || true' EXIT
fi

step "build (release): credence and the load bench"
cargo bench --locked --bench load --no-run

if [[ $mode == smoke ]]; then
  out=target/bench-load-smoke
  png=$out/throughput-vs-credentials.png
  flags=(--smoke)
else
  out=target/bench-load
  png=docs/benchmarks/throughput-vs-credentials.png
  flags=()
fi

step "run ($mode)"
started=$(date +%s)
cargo bench --locked --bench load -- "${flags[@]}" --python "$venv/bin/python" --out "$out" "${args[@]}"
echo "benchmark took $(($(date +%s) - started)) s"

step "plot"
mkdir -p "$(dirname "$png")"
"$venv/bin/python" benches/load/plot.py "$out/report.json" "$png"
