#!/usr/bin/env bash
# The main job's wall time with --workers 1 and --workers 2, side by side in one invocation (release build).
#   bash Benchmarks/campaign-workers.sh                    the main job, campaigns/fashion-mnist.toml (about an hour on 2 cores: 28 min for --workers 1 alone)
#   ROUNDS=30 bash Benchmarks/campaign-workers.sh          the same campaign with fewer rounds
#   CAMPAIGN=campaigns/x.toml WORKERS=4 bash Benchmarks/…   another campaign, another worker count
# Each side starts from round 0 (--restart) into its own file under a temporary folder; the ratio is the speed-up.
set -euo pipefail
cd "$(dirname "$0")/.."
campaign=${CAMPAIGN:-campaigns/fashion-mnist.toml}
workers=${WORKERS:-2}
swift build -c release --product cocofl >/dev/null
binary=.build/release/cocofl
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
if [ -n "${ROUNDS:-}" ]; then
    sed -E "s/^rounds = .*/rounds = $ROUNDS/" "$campaign" > "$scratch/campaign.toml"
    campaign=$scratch/campaign.toml
fi
time_campaign() {  # workers → wall seconds on stdout
    local start end
    start=$(date +%s.%N)
    "$binary" campaign "$campaign" --out "$scratch/w$1.h5" --restart --plain --workers "$1" >/dev/null 2>"$scratch/w$1.log" \
        || { echo "error: the campaign with --workers $1 failed; its log:" >&2; tail -5 "$scratch/w$1.log" >&2; exit 1; }
    end=$(date +%s.%N)
    python3 -c "print($end - $start)"
}
echo "campaign $campaign${ROUNDS:+ (rounds = $ROUNDS)}, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
one=$(time_campaign 1)
many=$(time_campaign "$workers")
printf '%-14s %10s\n' "workers" "wall s"
printf '%-14s %10.1f\n' 1 "$one" "$workers" "$many"
printf 'speed-up %.2fx\n' "$(python3 -c "print($one / $many)")"
