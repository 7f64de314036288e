#!/usr/bin/env python3
"""Side-by-side training throughput: our engine (`cocofl bench`) and PyTorch's CPU build, in one run.

Runs `cocofl bench --json` (release build) and Benchmarks/pytorch/train_throughput.py with the same models,
input, batch and thread count, one after the other, and prints images/s for both and the ratio. PyTorch is
measured in both memory formats and the faster one is the baseline. Needs `pip install torch`.

    swift build -c release --product cocofl
    python3 Benchmarks/compare-with-pytorch.py [--models resnet8,resnet18,mobilenetv2] [--threads 2]
"""
import argparse
import json
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="resnet8,resnet18,mobilenetv2")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=20, help="timed steps for cocofl bench")
    p.add_argument("--cocofl", default=os.path.join(root, ".build", "release", "cocofl"))
    args = p.parse_args()
    if not os.path.exists(args.cocofl):
        sys.exit(f"error: {args.cocofl} not found; build it with: swift build -c release --product cocofl")
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    print(f"load before: {os.getloadavg()[0]:.2f}", file=sys.stderr)
    ours = json.loads(subprocess.run(
        [args.cocofl, "bench", "--models", args.models, "--batch", str(args.batch), "--steps", str(args.steps), "--json"],
        check=True, capture_output=True, text=True, env=env).stdout)
    torch_run = subprocess.run(
        [sys.executable, os.path.join(here, "pytorch", "train_throughput.py"), "--models", args.models,
         "--threads", str(args.threads), "--batch", str(args.batch), "--memory-format", "both", "--json"],
        check=True, capture_output=True, text=True)
    theirs = json.loads(torch_run.stdout)
    print(f"load after: {os.getloadavg()[0]:.2f}", file=sys.stderr)
    print(f"fp32 peak {ours['peakGFLOPs']:.1f} GFLOP/s; conv 3x3 " +
          ", ".join(f"{c['pass']} {100 * c['fractionOfPeak']:.0f}%" for c in ours["convolution"]))
    print(f"torch {theirs['info']['torch_version']}, {args.threads} threads, batch {args.batch}, input 3x32x32")
    print(f"{'model':<12} {'cocofl img/s':>12} {'torch img/s':>12} {'torch format':>14} {'ratio':>7}")
    for m in ours["models"]:
        rows = [r for r in theirs["results"] if r["model"] == m["model"]]
        best = max(rows, key=lambda r: r["images_per_s"])
        print(f"{m['model']:<12} {m['imagesPerSecond']:12.1f} {best['images_per_s']:12.1f} "
              f"{best['memory_format']:>14} {m['imagesPerSecond'] / best['images_per_s']:7.2f}")


if __name__ == "__main__":
    main()
