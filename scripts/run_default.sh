#!/usr/bin/env bash
# Sets up .venv (if needed) and runs the default experiment (digits, ~1 min).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m experiments.train --config=configs/default.py \
  --workdir="${WORKDIR:-workdirs/default}" "$@"
