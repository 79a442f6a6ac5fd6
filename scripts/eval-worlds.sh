#!/usr/bin/env bash
# Measures detection on simulated worlds unlike the demo's (`credence demo --world N`: each draws
# its own archetype mix, operation vocabulary, activity level, and attacks: sparse bursts, slow
# exfiltration over 6-28 hours, bulk reads, dormant keys silent 5-10 days or created months
# before their first use). Two sets: worlds used while tuning the detectors, and worlds held out,
# never looked at while tuning (docs/DETECTION.md). Prints, per set and side by side, per
# incident kind: recall (any finding), recall at Medium or above; and per set: precision (all
# findings and at Medium or above), false High/Critical findings per 1,000 credential-days.
#
#   scripts/eval-worlds.sh [OUT]      default OUT: target/eval-worlds
#
# Two at a time; about three minutes on two cores after the build.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/eval-worlds}
tuned=(${TUNED_WORLDS:-1 2 3 4 5 6})
held_out=(${HELD_OUT_WORLDS:-101 102 103 104 105 106})
credentials=2000
days=14
# PROFILE=dev measures with the test profile's binary (the library crates and dependencies are
# optimised in it too, and the figures are the same: the simulator and detectors are
# deterministic), for a machine where a release build of every dependency is too slow.
if [[ ${PROFILE:-release} == dev ]]; then
  cargo build --quiet --bin credence
  bin=target/debug/credence
else
  cargo build --release --quiet --bin credence
  bin=target/release/credence
fi
mkdir -p "$out"
worlds=("${tuned[@]}" "${held_out[@]}")
for ((i = 0; i < ${#worlds[@]}; i += 2)); do
  for w in "${worlds[@]:i:2}"; do
    "$bin" demo --quiet --world "$w" --credentials "$credentials" --days "$days" \
      --report-json "$out/w$w.json" >"$out/w$w.txt" 2>&1 &
  done
  wait
done
python3 - "$out" "${tuned[*]}" "${held_out[*]}" "$credentials" "$days" <<'PY'
import collections, json, sys

out, tuned, held, creds, days = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), int(sys.argv[4]), int(sys.argv[5])

def totals(worlds):
    t = collections.defaultdict(collections.Counter)
    fa = collections.Counter()
    s = collections.Counter()
    for w in worlds:
        r = json.load(open(f"{out}/w{w}.json"))
        for row in r["incidents"]:
            k = t[row["kind"]]
            k["n"] += row["incidents"]
            k["found"] += row["detected"]
            k["medium"] += row["detected_medium"]
        for det, n in r["false_alarms_by_detector"]:
            fa[det] += n
        s["findings"] += r["findings"]
        s["on_incident"] += r["incident_findings"]
        s["medium"] += r["findings_medium"]
        s["medium_on_incident"] += round(r["precision_medium"] * r["findings_medium"])
        s["high_false"] += r["high_severity_false"]
        print(f"  world {w:>4}: precision {100 * r['precision']:.1f}%, at Medium+ {100 * r['precision_medium']:.1f}% "
              f"({r['findings']} findings, {r['findings_medium']} Medium+); false High/Critical {r['high_severity_false']}; "
              f"missed: " + (", ".join(f"{row['kind']} {row['detected']}/{row['incidents']}"
                                        for row in r["incidents"] if row["detected"] < row["incidents"]) or "none"))
    return t, fa, s

sets = {}
for name, worlds in (("tuned", tuned), ("held out", held)):
    print(f"{name} worlds ({', '.join(worlds)}):")
    sets[name] = totals(worlds)
print()
print(f"{'incident kind':<24} {'tuned: found':>14} {'Medium+':>9} | {'held out: found':>16} {'Medium+':>9}")
kinds = list(sets["tuned"][0].keys())
def cell(c):
    return f"{c['found']:>3}/{c['n']:<3} {100 * c['found'] / max(c['n'], 1):5.1f}%", f"{100 * c['medium'] / max(c['n'], 1):5.1f}%"
for k in kinds:
    a, am = cell(sets["tuned"][0][k])
    b, bm = cell(sets["held out"][0][k])
    print(f"{k:<24} {a:>14} {am:>9} | {b:>16} {bm:>9}")
for name, worlds in (("tuned", tuned), ("held out", held)):
    t, fa, s = sets[name]
    cd = creds * days * len(worlds)
    n = sum(c["n"] for c in t.values())
    found = sum(c["found"] for c in t.values())
    print(f"{name}: all kinds {found}/{n} ({100 * found / max(n, 1):.1f}%); precision {100 * s['on_incident'] / max(s['findings'], 1):.1f}%, "
          f"at Medium+ {100 * s['medium_on_incident'] / max(s['medium'], 1):.1f}%; false High/Critical {s['high_false']} "
          f"= {1000 * s['high_false'] / cd:.2f} per 1,000 credential-days; false alarms by detector: "
          + ", ".join(f"{d} {k}" for d, k in fa.most_common()))
PY
