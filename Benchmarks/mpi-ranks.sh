#!/usr/bin/env bash
# Rounds per second of one run with 1 process (every core) and with 2 MPI ranks (the cores split), side by side in
# one invocation (release build); and what one round's exchange costs over shared memory and TCP loopback.
#   bash Benchmarks/mpi-ranks.sh                  resnet8 on Fashion-MNIST and mobilenetv2 on it at 3×32×32
#   RANKS=4 bash Benchmarks/mpi-ranks.sh          another rank count (oversubscribed beyond the cores)
# About 10 minutes on 2 cores. Needs OpenMPI (scripts/install-system-packages.sh). Run it on an idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
ranks=${RANKS:-2}
swift build -c release --product cocofl >/dev/null
binary=$(pwd)/.build/release/cocofl
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
echo "$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $ranks ranks"

# s/round of the training-only rounds (median) and of the evaluation rounds, and rounds/s over the whole run.
summarize() {  # label, json file, wall seconds
    python3 - "$1" "$2" "$3" <<'PY'
import json, statistics, sys
label, path, wall = sys.argv[1], sys.argv[2], float(sys.argv[3])
rounds = [json.loads(line) for line in open(path) if line.startswith("{")]
train = [r["seconds"] for r in rounds if r.get("evaluation") is None]
evaluated = [r["seconds"] for r in rounds if r.get("evaluation") is not None]
upload = statistics.mean(r["uploadBytes"] for r in rounds)
print(f"{label:34s} {len(rounds) / wall:9.3f} {statistics.median(train) if train else float('nan'):10.2f} "
      f"{statistics.median(evaluated) if evaluated else float('nan'):9.2f} {upload / 1e6:9.2f}")
PY
}

run_pair() {  # label, cocofl run arguments…
    local label=$1; shift
    local start end
    start=$(date +%s.%N)
    "$binary" run "$@" --json > "$scratch/one.json" 2> "$scratch/one.err" || { tail -3 "$scratch/one.err" >&2; exit 1; }
    end=$(date +%s.%N)
    summarize "$label, 1 process" "$scratch/one.json" "$(python3 -c "print($end - $start)")"
    start=$(date +%s.%N)
    mpirun --oversubscribe -np "$ranks" "$binary" run "$@" --json > "$scratch/ranks.json" 2> "$scratch/ranks.err" \
        || { tail -3 "$scratch/ranks.err" >&2; exit 1; }
    end=$(date +%s.%N)
    summarize "$label, $ranks ranks" "$scratch/ranks.json" "$(python3 -c "print($end - $start)")"
}

printf '%-34s %9s %10s %9s %9s\n' "run" "rounds/s" "train s/r" "eval s/r" "upload MB"
run_pair "resnet8 fedavg 30 rounds" --strategy fedavg --model resnet8 --dataset fashion-mnist --rounds 30 --eval-every 5 --bn-eval reestimated
run_pair "mobilenetv2 fedavg 4 rounds" --strategy fedavg --model mobilenetv2 --dataset fashion-mnist-3x32x32 --rounds 4 --eval-every 4 --bn-eval reestimated

echo
echo "exchange of one round's updates (cocofl bench-ranks): shared memory, then TCP loopback"
mpirun --oversubscribe -np "$ranks" --mca btl self,vader "$binary" bench-ranks --megabytes 3.1 --megabytes 92 --megabytes 447
mpirun --oversubscribe -np "$ranks" --mca btl self,tcp "$binary" bench-ranks --megabytes 3.1 --megabytes 92 --megabytes 447
