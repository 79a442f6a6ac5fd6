#!/usr/bin/env bash
# Checks what the dependencies are (deny.toml): licenses (permissive only), sources (crates.io
# only) and bans (no wildcard requirements; duplicate versions reported). Run by CI.
#
#   scripts/deps-check.sh
#
# Installs cargo-deny (pinned) under ${CREDENCE_CACHE:-~/.cache/credence}/tools the first time.
#
# Security advisories (RustSec) are not checked by this script: cargo-deny reads them from the
# advisory database's git repository on GitHub, which this project's CI machines cannot reach.
# Where it can be reached: `cargo deny check advisories` with the same cargo-deny.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=0.20.2
tools="${CREDENCE_CACHE:-${HOME:-/tmp}/.cache/credence}/tools/cargo-deny-$VERSION"
bin="$tools/bin/cargo-deny"
if [ ! -x "$bin" ]; then
  echo "installing cargo-deny $VERSION into $tools"
  cargo install --quiet --locked --root "$tools" cargo-deny --version "$VERSION"
fi
"$bin" --locked check licenses bans sources
