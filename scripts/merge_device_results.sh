#!/usr/bin/env bash
# Merges the cells a device call brought back into the ledgers and rewrites
# them (experiments/device_results.py merge, which says what is refused).
#   bash scripts/merge_device_results.sh FILES_AT [RESULTS_ROOT] [--replace_unfinished]
# FILES_AT: the folder the device tool's reply names (files_at), holding
# cells-<table>.tar.gz; or a folder laid out as results/<table>/runs/<cell>/.
# RESULTS_ROOT: default results/ of this checkout. Rerunning is a no-op.
set -euo pipefail
[[ $# -ge 1 ]] || { sed -n '2,7p' "$0"; exit 2; }
from=$(realpath "$1"); shift
results=$(dirname "$0")/../results
if [[ $# -gt 0 && $1 != --* ]]; then results=$(realpath "$1"); shift; fi
cd "$(dirname "$0")/.."
[[ $results == */../results ]] && results=results  # ledgers say results/<table>
PY=${PYTHON:-.venv/bin/python}
exec "$PY" -m experiments.device_results merge --from="$from" \
  --results="$results" "$@"
