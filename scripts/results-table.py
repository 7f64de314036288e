#!/usr/bin/python3
"""Markdown tables of a fidelity campaign for docs/results.md.

    /usr/bin/python3 scripts/results-table.py results/fidelity.h5 [--cocofl .build/release/cocofl] [--round-times]

Reads the seed groups of `cocofl inspect FILE --json` (mean, standard deviation and 95 % Student-t interval over
the seeds) and, from the file itself (h5py), how much each group's accuracy still changed over its last rounds.
"""
import argparse
import json
import subprocess
import sys

import h5py
import numpy as np

ORDER = ["fedavg", "device-dropping", "heterofl", "fedrolex", "federated-dropout", "cocofl"]


def interval(statistics, scale=100.0):
    if not statistics:
        return "—"
    mean = statistics["mean"] * scale
    half = statistics.get("halfWidth95")
    return f"{mean:.1f} ± {half * scale:.1f}" if half is not None else f"{mean:.1f}"


def late_change(results, runs, last=10):
    """Mean over runs of (mean accuracy of the last `last` rounds) − (mean of the `last` rounds before), in points."""
    changes = []
    for run in runs:
        metrics = results["runs"][run]["metrics"]
        rounds, accuracy = metrics["round"][()], metrics["accuracy"][()]
        keep = ~np.isnan(accuracy)
        rounds, accuracy = rounds[keep], accuracy[keep]
        end = rounds.max()
        recent = accuracy[rounds > end - last]
        before = accuracy[(rounds > end - 2 * last) & (rounds <= end - last)]
        if len(recent) and len(before):
            changes.append(100 * (recent.mean() - before.mean()))
    return np.mean(changes) if changes else float("nan")


def print_round_times(results, groups, rows):
    """Medians, not means: a campaign paused or resumed has a few rounds that took far longer than the others."""
    print("\n| model | α | strategy | median s, training round | median s, evaluation round | rounds |")
    print("|---|---|---|---|---|---|")
    for group in groups:
        training, evaluation = [], []
        for run in group["runs"]:
            if rows[run]["status"] != "complete":
                continue
            metrics = results["runs"][run]["metrics"]
            seconds, accuracy = metrics["seconds"][()], metrics["accuracy"][()]
            training += list(seconds[np.isnan(accuracy)])
            evaluation += list(seconds[~np.isnan(accuracy)])
        if training or evaluation:
            print(f"| {group['model']} | {group['alpha']} | {group['strategy']} | {np.median(training):.1f} | "
                  f"{np.median(evaluation):.1f} | {len(training) + len(evaluation)} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--cocofl", default=".build/release/cocofl")
    parser.add_argument("--round-times", action="store_true",
                        help="also print the median seconds of training-only and of evaluation rounds per group")
    arguments = parser.parse_args()
    table = json.loads(subprocess.run([arguments.cocofl, "inspect", arguments.file, "--json"], check=True,
                                      capture_output=True, text=True).stdout)
    rows = {row["run"]: row for row in table["runs"]}
    results = h5py.File(arguments.file, "r")
    groups = sorted(table["seedGroups"], key=lambda g: (g["model"], g["alpha"] or 0,
                                                         ORDER.index(g["strategy"]) if g["strategy"] in ORDER else 99))
    print("| model | α | strategy | seeds | final % | best % | worst group % | gap (points) | upload MB/round | median s/round | last-10-round change |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for group in groups:
        complete = [run for run in group["runs"] if rows[run]["status"] == "complete"]
        upload = np.mean([rows[run]["uploadBytes"] / rows[run]["rounds"] / 1e6 for run in complete]) if complete else float("nan")
        # The median round, not inspect's mean: a paused or resumed campaign has a few rounds of many minutes.
        seconds = np.median(np.concatenate([results["runs"][run]["metrics"]["seconds"][()] for run in complete])) if complete else float("nan")
        print(f"| {group['model']} | {group['alpha']} | {group['strategy']} | {len(group['seeds'])} | "
              f"{interval(group.get('finalAccuracy'))} | {interval(group.get('bestAccuracy'))} | "
              f"{interval(group.get('worstGroupAccuracy'))} | {interval(group.get('groupGap'))} | {upload:.2f} | {seconds:.1f} | "
              f"{late_change(results, complete):+.2f} |")
    if arguments.round_times:
        print_round_times(results, groups, rows)
    incomplete = [run for run, row in rows.items() if row["status"] != "complete"]
    if incomplete or table["notStarted"]:
        print(f"\nnot complete: {', '.join(sorted(incomplete + table['notStarted']))}", file=sys.stderr)


if __name__ == "__main__":
    main()
