#!/usr/bin/env bash
# Runs (or continues) the converged paper tables in order, each into its
# ledger under results/. Finished cells are skipped, so rerunning this in a
# new session continues where the last one stopped. Commit results/ after.
#   nohup bash scripts/run_tables.sh > /tmp/tables.log 2>&1 &
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
TABLES=${TABLES:-"table3_mnist_dense table4_mnist_dense table5_mnist_dense
  table7_fashion_mnist_dense table8_fashion_mnist_dense table6_mnist_dense
  table9_fashion_mnist_dense"}
for table in $TABLES; do
  echo "== $(date -u +%FT%TZ) $table"
  .venv/bin/python -m experiments.sweep --config="configs/$table.py" \
    --workdir="results/$table" || echo "== $table failed (exit $?)"
done
