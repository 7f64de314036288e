#!/usr/bin/env bash
# Fuzzes the file readers with libFuzzer (docs/fuzzing.md): builds the Fuzz/ package with -sanitize=fuzzer, then
# runs each target for SECONDS (default 30) on a temporary copy of its seed corpus, one at a time, one worker.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]   (targets: FuzzIDX FuzzCIFAR FuzzFEMNIST FuzzHDF5Dataset
# FuzzCampaign FuzzResultsFile; default all). Exits non-zero when a target crashes, naming the crash input.
# FUZZ_SEED (default 1) seeds libFuzzer's mutations, so that a short run (CI's 30 s) replays the beginning of a long
# run made here with the same seed; FUZZ_SEED=0 picks a random seed to explore further.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
seconds=${1:-30}
seed=${FUZZ_SEED:-1}
# FUZZ_MAX_RUNS caps the executions per target (CI: the same prefix of the seeded run on fast and slow machines).
max_runs=${FUZZ_MAX_RUNS:--1}
[ $# -gt 0 ] && shift
all_targets=(FuzzIDX FuzzCIFAR FuzzFEMNIST FuzzHDF5Dataset FuzzCampaign FuzzResultsFile)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all_targets[@]}")
export OMP_NUM_THREADS=1
# Let libFuzzer, not the Swift runtime's backtracer, handle traps, so that it saves the crashing input.
export SWIFT_BACKTRACE=enable=no

build_start=$(date +%s)
swift build -c release --package-path Fuzz --scratch-path Fuzz/.build \
    -Xswiftc -sanitize=fuzzer -Xswiftc -parse-as-library
bin=$(swift build -c release --package-path Fuzz --scratch-path Fuzz/.build --show-bin-path)
echo "fuzz.sh: build took $(( $(date +%s) - build_start )) s"

work=$(mktemp -d /tmp/cocofl-fuzz.XXXXXX)
failed=()
for target in "${targets[@]}"; do
    corpus="$work/$target/corpus"
    mkdir -p "$corpus" "$work/$target/artifacts"
    cp "$repo/Fuzz/corpus/$target/"* "$corpus/"
    log="$work/$target/fuzz.log"
    status=0
    # -rss_limit_mb and -malloc_limit_mb make huge allocations count as crashes; -timeout makes hangs count.
    "$bin/$target" "$corpus" -max_total_time="$seconds" -seed="$seed" -runs="$max_runs" -workers=1 -jobs=1 -timeout=10 -rss_limit_mb=2048 \
        -malloc_limit_mb=1024 -max_len=16384 -print_final_stats=1 -artifact_prefix="$work/$target/artifacts/" >"$log" 2>&1 || status=$?
    done_line=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$log" | tail -1 || true)
    execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || true)
    rate=$(grep -oE 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -oE '[0-9]+$' || true)
    cov=$(echo "$done_line" | grep -oE 'cov: [0-9]+' || true)
    crash=$(ls "$work/$target/artifacts/" 2>/dev/null | head -1)
    if [ "$status" -ne 0 ] || [ -n "$crash" ]; then
        echo "fuzz.sh: $target CRASHED (exit $status): input $work/$target/artifacts/$crash, log $log"
        grep -E 'ERROR|Fatal error|SUMMARY|deadly signal|out-of-memory|timeout' "$log" | head -5 || true
        failed+=("$target")
    else
        echo "fuzz.sh: $target ok: ${seconds} s (seed $seed), ${execs:-?} runs, ${rate:-?} exec/s, ${cov:-cov: ?} (log $log)"
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz.sh: crashes in ${failed[*]}; turn each input into a regression test (docs/fuzzing.md)"
    exit 1
fi
echo "fuzz.sh: no crashes"
