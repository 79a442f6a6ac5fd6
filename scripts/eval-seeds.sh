#!/usr/bin/env bash
# Measures detection over the twelve demo seeds docs/DETECTION.md quotes: six the detectors were
# built on (the default, 7, 99, 2024, 1, 2) and six held out (3, 4, 5, 6, 8, 9). One seed holds
# six incidents of each kind, too few to tell a change from chance; twelve hold 72.
#
#   scripts/eval-seeds.sh [OUT]      default OUT: target/eval-seeds
#
# Runs `credence demo --quiet --seed N --report-json OUT/N.json` for each seed (two at a time),
# then prints, per seed and per set: incidents found by kind where any were missed, precision,
# and the false alarms (findings on no incident: on a benign confounder or on nothing) by the
# detector that raised them. Takes about two and a half minutes on two cores after the build.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/eval-seeds}
built_on=(12648430 7 99 2024 1 2)
held_out=(3 4 5 6 8 9)
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
seeds=("${built_on[@]}" "${held_out[@]}")
for ((i = 0; i < ${#seeds[@]}; i += 2)); do
  for s in "${seeds[@]:i:2}"; do
    "$bin" demo --quiet --seed "$s" --report-json "$out/$s.json" >"$out/$s.txt" 2>&1 &
  done
  wait
done
python3 - "$out" "${built_on[*]}" "${held_out[*]}" <<'PY'
import collections, json, sys

out, sets = sys.argv[1], {"built on": sys.argv[2].split(), "held out": sys.argv[3].split()}

def totals(seeds):
    found, n, fa = collections.Counter(), collections.Counter(), collections.Counter()
    precisions = []
    for s in seeds:
        r = json.load(open(f"{out}/{s}.json"))
        for row in r["incidents"]:
            found[row["kind"]] += row["detected"]
            n[row["kind"]] += row["incidents"]
        for det, k in r["false_alarms_by_detector"]:
            fa[det] += k
        precisions.append(r["precision"])
        missed = ", ".join(f"{row['kind']} {row['detected']}/{row['incidents']}"
                           for row in r["incidents"] if row["detected"] < row["incidents"])
        print(f"  seed {s:>8}: precision {100 * r['precision']:.1f}% ({r['findings']} findings); "
              f"missed: {missed or 'none'}; false alarms: "
              + (", ".join(f"{d} {k}" for d, k in r["false_alarms_by_detector"]) or "none"))
    return found, n, fa, precisions

found, n, fa, p = collections.Counter(), collections.Counter(), collections.Counter(), []
for name, seeds in sets.items():
    print(f"{name} ({', '.join(seeds)}):")
    set_found, set_n, set_fa, set_p = totals(seeds)
    print(f"  all kinds {sum(set_found.values())}/{sum(set_n.values())}; "
          f"precision {100 * min(set_p):.1f}–{100 * max(set_p):.1f}%; false alarms {sum(set_fa.values())}")
    found.update(set_found)
    n.update(set_n)
    fa.update(set_fa)
    p.extend(set_p)
print("twelve seeds:")
for kind in n:
    print(f"  {kind:<24} {found[kind]:>3}/{n[kind]:<3} {100 * found[kind] / n[kind]:5.1f}%")
print(f"  all kinds {sum(found.values())}/{sum(n.values())}; precision {100 * min(p):.1f}–{100 * max(p):.1f}%")
print("  false alarms by detector: " + ", ".join(f"{d} {k}" for d, k in fa.most_common()))
PY
