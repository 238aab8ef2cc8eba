#!/usr/bin/env bash
# Sets up (first time only) and runs Notewell on the embedded defaults: SQLite in the
# data folder, in-process bus, local worker pool, embedded models. No services needed.
# Extra arguments go to `notewell serve` (e.g. --port 9000).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/notewell serve "$@"
