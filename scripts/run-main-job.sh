#!/usr/bin/env bash
# Sets up a fresh machine, builds the release tool and runs the main job (the README's first command):
# a comparison of fedavg, device-dropping, heterofl and cocofl on Fashion-MNIST (resnet8, 100 devices of the
# reference strong/medium/weak groups, 10 per round, Dirichlet α = 0.1), stored in results/fashion-mnist.h5,
# ending with the comparison table. Runs already complete in that file (same configuration) are skipped, so a
# re-run picks up where an interrupted one stopped. ROUNDS and OUT override the round count and the file.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-packages.sh
swift build -c release --product cocofl
mkdir -p results
out=${OUT:-results/fashion-mnist.h5}
rounds=${ROUNDS:-40}
for strategy in fedavg device-dropping heterofl cocofl; do
    echo "== $strategy ($rounds rounds)"
    .build/release/cocofl run --strategy "$strategy" --dataset fashion-mnist --model resnet8 --rounds "$rounds" \
        --devices 100 --per-round 10 --alpha 0.1 --seed 1 --eval-every 5 --bn-eval reestimated \
        --out "$out" --name "$strategy" --skip-complete
done
echo
.build/release/cocofl inspect "$out"
