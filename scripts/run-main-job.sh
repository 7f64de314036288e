#!/usr/bin/env bash
# Sets up a fresh machine, builds the release tool and runs the main job (the README's first command): the
# campaign campaigns/fashion-mnist.toml (fedavg, device-dropping, heterofl and cocofl on Fashion-MNIST) into
# results/fashion-mnist.h5, ending with the comparison table. Running it again skips complete runs and resumes
# interrupted ones from their last checkpoint. CAMPAIGN and OUT override the campaign file and the results file.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-packages.sh
swift build -c release --product cocofl
campaign=${CAMPAIGN:-campaigns/fashion-mnist.toml}
out=${OUT:-results/fashion-mnist.h5}
.build/release/cocofl campaign "$campaign" --out "$out"
