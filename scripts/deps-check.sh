#!/usr/bin/env bash
# Checks what the dependencies are (deny.toml): licenses (permissive only), sources (crates.io
# only), bans (no wildcard requirements; duplicate versions reported) and security advisories
# (RustSec), offline. Run by CI.
#
#   scripts/deps-check.sh
#
# Installs cargo-deny (pinned) under ${CREDENCE_CACHE:-~/.cache/credence}/tools the first time.
#
# Advisories are read from a snapshot of the RustSec advisory database, never fetched (the CI
# machines cannot reach its git repository): ${CREDENCE_ADVISORY_DB:-../shared/rustsec-advisory-db}
# relative to the repository (its PROVENANCE.md says which commit). cargo-deny wants a git
# repository where it would have cloned one, so the snapshot is copied into the cache as one
# (again whenever the snapshot changes). Then the check is shown to bite: a scratch manifest that
# depends on smallvec 1.6.0 (RUSTSEC-2021-0003, a buffer overflow) must fail it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
VERSION=0.20.2
cache="${CREDENCE_CACHE:-${HOME:-/tmp}/.cache/credence}"
tools="$cache/tools/cargo-deny-$VERSION"
bin="$tools/bin/cargo-deny"
# deny.toml's [advisories] db-path.
export CREDENCE_ADVISORY_DBS="$cache/advisory-dbs"
if [ ! -x "$bin" ]; then
  echo "installing cargo-deny $VERSION into $tools"
  cargo install --quiet --locked --root "$tools" cargo-deny --version "$VERSION"
fi
"$bin" --locked check licenses bans sources

# The advisory database, as the git repository cargo-deny expects in its db-path: a directory
# named after the database's URL (the default, https://github.com/rustsec/advisory-db).
snapshot="${CREDENCE_ADVISORY_DB:-$root/../shared/rustsec-advisory-db}"
if [ ! -f "$snapshot/PROVENANCE.md" ]; then
  echo "no advisory database snapshot at $snapshot (set CREDENCE_ADVISORY_DB)" >&2
  exit 1
fi
db="$CREDENCE_ADVISORY_DBS/advisory-db-3157b0e258782691"
stamp=$(cat "$snapshot/PROVENANCE.md")
if [ ! -d "$db/.git" ] || [ "$(cat "$db/.credence-provenance" 2>/dev/null)" != "$stamp" ]; then
  echo "preparing the advisory database from $snapshot"
  rm -rf "$db"
  mkdir -p "$db"
  cp -R "$snapshot/." "$db/"
  chmod -R u+w "$db"
  git -C "$db" init --quiet
  git -C "$db" add --all
  git -C "$db" -c user.name=credence -c user.email=credence@example.invalid \
    commit --quiet --no-gpg-sign -m "RustSec advisory database snapshot"
  printf '%s' "$stamp" >"$db/.credence-provenance"
fi
echo "advisories: RustSec advisory database at commit $(grep -o '[0-9a-f]\{40\}' "$snapshot/PROVENANCE.md" | head -n 1)"
"$bin" --locked --offline check advisories

# The check bites: a known-vulnerable crate in a scratch manifest fails it.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/src"
cat >"$scratch/Cargo.toml" <<'EOF'
[package]
name = "credence-advisory-probe"
version = "0.0.0"
edition = "2021"
license = "Apache-2.0"
publish = false

[dependencies]
smallvec = "=1.6.0"
EOF
echo >"$scratch/src/lib.rs"
cp deny.toml "$scratch/deny.toml"
(cd "$scratch" && cargo generate-lockfile --quiet && cargo fetch --quiet)
if (cd "$scratch" && "$bin" --locked --offline check advisories) >"$scratch/out.txt" 2>&1; then
  cat "$scratch/out.txt" >&2
  echo "the advisory check passed smallvec 1.6.0 (RUSTSEC-2021-0003): it does not bite" >&2
  exit 1
fi
if ! grep -q "RUSTSEC-2021-0003" "$scratch/out.txt"; then
  cat "$scratch/out.txt" >&2
  echo "the advisory check failed smallvec 1.6.0, but not for RUSTSEC-2021-0003" >&2
  exit 1
fi
echo "advisories: the check bites (smallvec 1.6.0 refused for RUSTSEC-2021-0003)"
