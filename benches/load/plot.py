#!/usr/bin/env python3
"""Plots a load benchmark report (target/bench-load/report.json) as a PNG.

Left: events/s of `credence replay` (one thread) against the number of resident credentials.
Right: resident memory while ever more distinct credentials stream through a store bounded by
`[detect] max_credentials`, beside what the same credentials would cost unbounded.

Usage: plot.py REPORT.json OUT.png
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

MIB = 1024 * 1024


def main():
    report_path, out = sys.argv[1], sys.argv[2]
    with open(report_path) as f:
        r = json.load(f)
    res = sorted(r.get("residency", []), key=lambda x: x["credentials"])
    plateau = r.get("plateau")
    if not res and not plateau:
        # A run without the residency phase (e.g. --phases peer) has nothing to plot: keep the
        # plot of the last run that had.
        print(f"plot: {report_path} has no residency figures; {out} left as it was")
        return
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))

    ax = axes[0]
    if res:
        ks = [x["credentials"] for x in res]
        rates = [x["events_per_sec"] for x in res]
        ax.plot(ks, rates, marker="o", color="tab:blue")
        for k, rate, x in zip(ks, rates, res):
            ax.annotate(f"{rate / 1000:.0f}k/s\n{x['bytes_per_credential']:.0f} B/cred", (k, rate),
                        textcoords="offset points", xytext=(0, 8), ha="center", fontsize=8)
        ax.set_xscale("log")
        ax.set_ylim(0, max(rates) * 1.3)
    ax.set_xlabel("resident credentials")
    ax.set_ylabel("events/s (decode, score, learn, aggregate; one thread)")
    ax.set_title("Throughput vs resident credentials")
    ax.grid(True, which="both", alpha=0.3)

    ax = axes[1]
    if plateau:
        xs = [s[0] for s in plateau["samples"]]
        ys = [s[1] / MIB for s in plateau["samples"]]
        cap = plateau["max_credentials"]
        ax.plot(xs, ys, marker=".", color="tab:green", label="RSS, bounded store")
        at_cap = plateau["rss_at_capacity_bytes"] / MIB
        per = (at_cap - ys[0]) / cap
        ax.plot([0, xs[-1]], [ys[0], ys[0] + per * xs[-1]], linestyle="--", color="tab:gray",
                label="unbounded (same cost per credential)")
        ax.axvline(cap, color="tab:red", linestyle=":", label=f"max_credentials = {cap:,}")
        ax.set_ylim(0, max(ys) * 2.2)
        ax.legend(fontsize=8, loc="upper left")
    ax.set_xlabel("distinct credentials streamed")
    ax.set_ylabel("RSS, MiB")
    ax.set_title("Memory bounded by configuration")
    ax.grid(True, alpha=0.3)

    m = r.get("machine", {})
    fig.suptitle(f"credence load benchmark ({r.get('mode')}): {m.get('cores')} cores, {m.get('cpu_model')}",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"plot: {out}")


if __name__ == "__main__":
    main()
