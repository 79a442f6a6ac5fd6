#!/usr/bin/env python3
"""The peer in the load benchmark: River's HalfSpaceTrees on the events Credence scores.

Reads OCSF API Activity JSON lines (the file `benches/load.rs` writes from the simulator, or
`credence simulate`), turns each event into a numeric feature vector carrying the information
Credence's detectors use, and runs `score_one` then `learn_one` of
`preprocessing.MinMaxScaler() | anomaly.HalfSpaceTrees(seed=42)` per event, in stream order.
This is the streaming anomaly detector a data scientist would reach for first.

Features (29, every one present on every event, as HalfSpaceTrees needs):
  hour_sin, hour_cos      hour of day (UTC), on the circle
  weekend                 1 on Saturday and Sunday
  log_bytes               ln(1 + response bytes)
  status_4xx, status_5xx  status class
  op_0 .. op_15           the operation (service + name), one-hot into 16 CRC-32 buckets
  new_op, new_net, new_asn, new_country, new_agent
                          1 if this credential never used this operation, /24 network, AS,
                          country or user agent before (per-credential sets, as Credence's
                          baselines hold frequency tables)
  log_gap                 ln(1 + seconds since this credential's previous event)
  log_speed               ln(1 + km/h from the credential's previous location)

River keeps one model for the whole stream (per-credential models would be far slower still);
the per-credential state above is plain Python dicts and sets, timed as part of parsing.

Timing, in chunks of CHUNK events: reading and parsing a chunk (json.loads and the features) is
timed apart from the model (score_one + learn_one), so both rates come out of one pass:
  hst_events_per_sec      events / model seconds (features already extracted)
  total_events_per_sec    events / (parse seconds + model seconds)

Usage: river_hst.py EVENTS.jsonl [--limit N]   -> one JSON object on stdout.
"""

import argparse
import json
import math
import platform
import sys
import time
import zlib

import river
from river import anomaly, compose, preprocessing

CHUNK = 20_000
OP_BUCKETS = 16
HOUR_MS = 3_600_000
# 1970-01-01 was a Thursday: day index 0 is Thursday, so Saturday and Sunday are 2 and 3.
WEEKEND_DAYS = (2, 3)
EARTH_KM = 6371.0


def speed_kmh(prev, lat, lon, t_ms):
    """km/h between the credential's previous (lat, lon, time) and this event."""
    plat, plon, pt = prev
    if lat is None or plat is None:
        return 0.0
    p1, p2 = math.radians(plat), math.radians(lat)
    dp, dl = p2 - p1, math.radians(lon - plon)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    km = 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(a)))
    hours = max((t_ms - pt) / HOUR_MS, 1 / 3600)
    return km / hours


class Features:
    """Per-credential memory and the feature vector of one event."""

    def __init__(self):
        self.seen = {}  # credential -> (ops, nets, asns, countries, agents)
        self.last = {}  # credential -> (lat, lon, time_ms)
        self.op_bucket = {}

    def of(self, rec):
        t = rec["time"]
        actor = rec.get("actor", {}).get("user", {})
        cred = actor.get("credential_uid", "")
        api = rec.get("api", {})
        op = api.get("service", {}).get("name", "") + " " + api.get("operation", "")
        src = rec.get("src_endpoint", {})
        ip = src.get("ip", "")
        net = ip.rsplit(".", 1)[0] if "." in ip else ip[:19]
        asn = src.get("autonomous_system", {}).get("number")
        loc = src.get("location", {})
        country = loc.get("country")
        lat, lon = loc.get("lat"), loc.get("long")
        agent = rec.get("http_request", {}).get("user_agent", "")
        resp = rec.get("http_response", {})
        status = resp.get("code", 200)
        length = resp.get("length", 0)

        hour = (t % (24 * HOUR_MS)) / HOUR_MS
        day = (t // (24 * HOUR_MS)) % 7
        x = {
            "hour_sin": math.sin(2 * math.pi * hour / 24),
            "hour_cos": math.cos(2 * math.pi * hour / 24),
            "weekend": 1.0 if day in WEEKEND_DAYS else 0.0,
            "log_bytes": math.log1p(length),
            "status_4xx": 1.0 if 400 <= status < 500 else 0.0,
            "status_5xx": 1.0 if status >= 500 else 0.0,
        }
        b = self.op_bucket.get(op)
        if b is None:
            b = self.op_bucket[op] = zlib.crc32(op.encode()) % OP_BUCKETS
        for i in range(OP_BUCKETS):
            x[f"op_{i}"] = 1.0 if i == b else 0.0

        sets = self.seen.get(cred)
        if sets is None:
            sets = self.seen[cred] = (set(), set(), set(), set(), set())
        for name, s, v in zip(("new_op", "new_net", "new_asn", "new_country", "new_agent"), sets,
                              (op, net, asn, country, agent)):
            if v in s:
                x[name] = 0.0
            else:
                x[name] = 1.0
                s.add(v)

        prev = self.last.get(cred)
        if prev is None:
            x["log_gap"] = 0.0
            x["log_speed"] = 0.0
        else:
            x["log_gap"] = math.log1p(max(t - prev[2], 0) / 1000)
            x["log_speed"] = math.log1p(speed_kmh(prev, lat, lon, t))
        self.last[cred] = (lat, lon, t)
        return x


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("events", help="OCSF API Activity JSON lines")
    ap.add_argument("--limit", type=int, default=0, help="events to score (0: all)")
    args = ap.parse_args()

    model = compose.Pipeline(preprocessing.MinMaxScaler(), anomaly.HalfSpaceTrees(seed=42))
    hst = model.steps["HalfSpaceTrees"]
    feats = Features()
    parse_secs = model_secs = 0.0
    events = 0
    score_sum = 0.0
    high = 0
    n_features = 0
    with open(args.events, "rb") as f:
        done = False
        while not done:
            t0 = time.perf_counter()
            chunk = []
            for line in f:
                if not line.strip():
                    continue
                chunk.append(feats.of(json.loads(line)))
                if len(chunk) == CHUNK or (args.limit and events + len(chunk) >= args.limit):
                    break
            else:
                done = True
            t1 = time.perf_counter()
            if chunk:
                n_features = len(chunk[0])
            for x in chunk:
                s = model.score_one(x)
                model.learn_one(x)
                score_sum += s
                high += s > 0.9
            t2 = time.perf_counter()
            parse_secs += t1 - t0
            model_secs += t2 - t1
            events += len(chunk)
            if args.limit and events >= args.limit:
                done = True
    json.dump(
        {
            "events": events,
            "features": n_features,
            "parse_secs": parse_secs,
            "hst_secs": model_secs,
            "hst_events_per_sec": events / model_secs if model_secs else 0.0,
            "total_events_per_sec": events / (parse_secs + model_secs) if events else 0.0,
            "mean_score": score_sum / events if events else 0.0,
            "scores_above_0_9": high,
            "model": "MinMaxScaler | HalfSpaceTrees(n_trees={}, height={}, window_size={}, seed=42)".format(
                hst.n_trees, hst.height, hst.window_size),
            "river": river.__version__,
            "python": platform.python_version(),
        },
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
