#!/usr/bin/env bash
# Sets up a fresh machine and runs the test suite (the README's second command).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-packages.sh
swift test "$@"
