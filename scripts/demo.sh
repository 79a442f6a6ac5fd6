#!/usr/bin/env bash
# Builds Credence and runs `credence demo`: the built-in simulator through the engine, with
# readable alerts and a recall/precision report. No Kafka needed. Extra arguments go to `demo`
# (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "building Credence (release); the first build compiles about 320 crates and librdkafka from source: several minutes; later runs start in seconds" >&2
exec cargo run --release --locked -- demo "$@"
