#!/usr/bin/env bash
# Writes the CycloneDX SBOM (JSON, spec 1.5) of the `credence` binary: every crate it links,
# with versions, licenses, hashes and package URLs (rdkafka-sys's version carries the bundled
# librdkafka's, e.g. 4.9.0+2.10.0). Build-only dependencies are left out.
#
#   scripts/sbom.sh [OUT]      default OUT: target/sbom/credence.cdx.json
#
# Installs cargo-cyclonedx (pinned) under ${CREDENCE_CACHE:-~/.cache/credence}/tools the first
# time. The container image (Dockerfile) runs this and ships the result; CI runs it and checks it.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=0.5.9
out=${1:-target/sbom/credence.cdx.json}
tools="${CREDENCE_CACHE:-${HOME:-/tmp}/.cache/credence}/tools/cyclonedx-$VERSION"
bin="$tools/bin/cargo-cyclonedx"
if [ ! -x "$bin" ]; then
  echo "installing cargo-cyclonedx $VERSION into $tools"
  cargo install --quiet --locked --root "$tools" cargo-cyclonedx --version "$VERSION"
fi
# `--describe binaries` writes <bin>_bin.cdx.json beside Cargo.toml.
rm -f credence_bin.cdx.json
"$bin" cyclonedx --format json --spec-version 1.5 --describe binaries --no-build-deps -q
mkdir -p "$(dirname "$out")"
mv credence_bin.cdx.json "$out"
# A check that fails on an empty or foreign document: the binary and its Kafka client must be in it.
python3 - "$out" <<'PY'
import json, sys
bom = json.load(open(sys.argv[1]))
assert bom["bomFormat"] == "CycloneDX", bom.get("bomFormat")
names = {c["name"]: c["version"] for c in bom.get("components", [])}
assert bom["metadata"]["component"]["name"] == "credence", bom["metadata"]["component"]
for must in ("rdkafka", "rdkafka-sys", "tokio", "serde_json", "hmac"):
    assert must in names, f"{must} missing from the SBOM"
print(f"SBOM: {sys.argv[1]}: CycloneDX {bom['specVersion']}, {len(names)} components "
      f"(librdkafka via rdkafka-sys {names['rdkafka-sys']})")
PY
