#!/usr/bin/env bash
# Runs (or continues) the converged paper tables in order, each into its
# ledger under results/. Finished cells are skipped, so rerunning this in a
# new session continues where the last one stopped. Commit results/ after.
# The issue-9 sweeps come last; their M2 cells cost ~6.5x a paper-model cell
# (hours on 2 CPU cores): on a lent GPU run them as --shard=i/n jobs.
#   nohup bash scripts/run_tables.sh > /tmp/tables.log 2>&1 &
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
TABLES=${TABLES:-"table3_mnist_dense table4_mnist_dense table5_mnist_dense
  table7_fashion_mnist_dense table8_fashion_mnist_dense table6_mnist_dense
  table9_fashion_mnist_dense semi_supervised_mnist
  semi_supervised_fashion_mnist unlabeled_diagnosis_mnist"}
for table in $TABLES; do
  echo "== $(date -u +%FT%TZ) $table"
  .venv/bin/python -m experiments.sweep --config="configs/$table.py" \
    --workdir="results/$table" || echo "== $table failed (exit $?)"
done
