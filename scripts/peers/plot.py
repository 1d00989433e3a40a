#!/usr/bin/env python3
"""Plot the end-to-end bench's sweeps: throughput against batch size and
against partitions (= workers). Reads the JSON results file written by
benches/e2e and writes a PNG.

Usage: plot.py target/bench/e2e.json target/bench/e2e.png
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    src, dst = sys.argv[1], sys.argv[2]
    with open(src) as f:
        results = json.load(f)
    fig, (by_batch, by_workers) = plt.subplots(1, 2, figsize=(11, 4.2))

    rows = sorted(results.get("batch_sweep", []), key=lambda r: r["batch"])
    if rows:
        xs = [r["batch"] for r in rows]
        by_batch.plot(xs, [r["records_per_sec"] / 1000 for r in rows], "o-", label="wasp")
        by_batch.set_xscale("log", base=2)
        by_batch.set_xticks(xs, [str(x) for x in xs])
        by_batch.set_title(f"{rows[0]['workload']}, {rows[0]['partitions']} partitions")
    by_batch.set_xlabel("batch.max_records")
    by_batch.set_ylabel("thousand records/s")
    by_batch.set_ylim(bottom=0)
    by_batch.grid(alpha=0.3)

    rows = sorted(results.get("scale_sweep", []), key=lambda r: r["partitions"])
    if rows:
        xs = [r["partitions"] for r in rows]
        by_workers.plot(xs, [r["records_per_sec"] / 1000 for r in rows], "o-", label="wasp")
        by_workers.set_xticks(xs, [str(x) for x in xs])
        by_workers.set_title(f"{rows[0]['workload']}, batch {rows[0]['batch']}")
    by_workers.set_xlabel("partitions = workers")
    by_workers.set_ylabel("thousand records/s")
    by_workers.set_ylim(bottom=0)
    by_workers.grid(alpha=0.3)

    machine = results.get("machine", {})
    fig.suptitle(f"wasp end to end on {machine.get('cores', '?')} cores, local Tansu broker")
    fig.tight_layout()
    fig.savefig(dst, dpi=110)


if __name__ == "__main__":
    main()
