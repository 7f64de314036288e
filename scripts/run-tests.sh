#!/usr/bin/env bash
# Sets up a fresh machine and runs the test suite (the README's second command).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-packages.sh
# The Slurm tests submit to a real single-node cluster (scripts/local-slurm.sh), which needs root. With
# COCOFL_REQUIRE_SLURM=1 (CI) a cluster that does not come up fails the run instead of skipping those tests.
if [ "$(id -u)" -eq 0 ] && bash scripts/local-slurm.sh start; then
    trap 'bash scripts/local-slurm.sh stop' EXIT
    export COCOFL_SLURM_TESTS=1
elif [ "${COCOFL_REQUIRE_SLURM:-0}" = 1 ]; then
    echo "error: the local Slurm cluster did not start (see above); the Slurm tests cannot run" >&2
    exit 1
else
    echo "run-tests: no local Slurm cluster (needs root); the Slurm job-array tests are skipped" >&2
fi
# (Not --disable-index-store, though it would save about 6 % of a fresh build: on Linux, swift test discovers the
# tests through the index store and fails without it.)
swift test "$@"
