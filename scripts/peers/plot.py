#!/usr/bin/env python3
"""Plot the end-to-end bench's sweeps: throughput against batch size and
against partitions (= workers), each point the median of its repetitions
with a bar from the lowest to the highest. Reads the JSON results file
written by benches/e2e and writes a PNG.

Usage: plot.py target/bench/e2e.json target/bench/e2e.png
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

NAMES = {"pass": "pass-through", "json": "json-transform", "knn": "Iris k-NN"}


def sweep(ax, rows, key, title):
    rows = sorted(rows, key=lambda r: r[key])
    if not rows:
        ax.set_title(f"{title}: not run")
        return
    xs = [r[key] for r in rows]
    ys = [r["records_per_sec"] / 1000 for r in rows]
    lo = [y - min(r.get("samples") or [r["records_per_sec"]]) / 1000 for y, r in zip(ys, rows)]
    hi = [max(r.get("samples") or [r["records_per_sec"]]) / 1000 - y for y, r in zip(ys, rows)]
    ax.errorbar(xs, ys, yerr=[lo, hi], fmt="o-", capsize=4, label="wasp")
    for x, y in zip(xs, ys):
        ax.annotate(f"{y:.0f}k", (x, y), textcoords="offset points", xytext=(7, 7), ha="left")
    ax.set_xticks(xs, [str(x) for x in xs])
    ax.set_ylim(0, max(y + h for y, h in zip(ys, hi)) * 1.2)
    ax.set_title(title)
    ax.set_ylabel("thousand records/s (median, min–max)")
    ax.grid(alpha=0.3)


def main():
    src, dst = sys.argv[1], sys.argv[2]
    with open(src) as f:
        results = json.load(f)
    fig, (by_batch, by_workers) = plt.subplots(1, 2, figsize=(11, 4.4))
    batch = results.get("batch_sweep", [])
    scale = results.get("scale_sweep", [])
    name = lambda rows: NAMES.get(rows[0]["workload"], rows[0]["workload"]) if rows else ""  # noqa: E731
    sweep(by_batch, batch, "batch", f"wasp {name(batch)}, {results.get('partitions')} partitions")
    if batch:
        by_batch.set_xscale("log", base=2)
        by_batch.set_xticks([r["batch"] for r in batch], [str(r["batch"]) for r in batch])
    by_batch.set_xlabel("batch.max_records")
    sweep(by_workers, scale, "partitions", f"wasp {name(scale)}, batch {results.get('batch')}")
    by_workers.set_xlabel("partitions = workers")
    machine = results.get("machine", {})
    fig.suptitle(
        f"wasp end to end: {machine.get('cores', '?')} cores shared with a local Tansu broker"
    )
    fig.tight_layout()
    fig.savefig(dst, dpi=110)


if __name__ == "__main__":
    main()
