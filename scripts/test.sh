#!/usr/bin/env bash
# Sets up .venv (if needed) and runs the whole test suite on CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export JAX_PLATFORMS=cpu
exec .venv/bin/python -m pytest -n 2 --durations=30 "$@"
