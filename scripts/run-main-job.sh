#!/usr/bin/env bash
# Sets up a fresh machine, builds the release tool and runs the main job (the README's first command).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-packages.sh
swift build -c release --product cocofl
mkdir -p results
.build/release/cocofl bench "$@" | tee results/bench.txt
