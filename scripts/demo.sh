#!/usr/bin/env bash
# Builds Credence and runs `credence demo`: the built-in simulator through the engine, with
# readable alerts and a recall/precision report. No Kafka needed. Extra arguments go to `demo`
# (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec cargo run --release --locked -- demo "$@"
