#!/usr/bin/env bash
# Runs (or continues) the converged tables in order, each into its ledger
# under results/. Finished cells are skipped, so rerunning this in a new
# session continues where the last one stopped. Commit results/ after.
#   nohup bash scripts/run_tables.sh > /tmp/tables.log 2>&1 &
# JOBS entries are CONFIG or CONFIG@REGEX (sweep --only=REGEX: those cells
# first). The unlabeled-data rows (remedies, M2) come last, cheapest
# first, M2's alpha selection
# before its rows; an M2 cell costs ~4x
# a paper-model cell (hours on 2 CPU cores): on a lent GPU run them as
# --shard=i/n jobs.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
JOBS=${JOBS:-"table3_mnist_dense table4_mnist_dense table5_mnist_dense
  table7_fashion_mnist_dense table8_fashion_mnist_dense table6_mnist_dense
  table9_fashion_mnist_dense
  semi_supervised_mnist@unlabeled_entropy_weight
  semi_supervised_fashion_mnist@unlabeled_entropy_weight
  select_alpha_m2_mnist
  semi_supervised_mnist@variant=m2,num_labels=100$
  unlabeled_diagnosis_mnist
  semi_supervised_fashion_mnist@variant=m2,num_labels=100$
  semi_supervised_mnist semi_supervised_fashion_mnist"}
for job in $JOBS; do
  table=${job%%@*}
  only=()
  [[ $job == *@* ]] && only=("--only=${job#*@}")
  echo "== $(date -u +%FT%TZ) $job"
  .venv/bin/python -m experiments.sweep --config="configs/$table.py" \
    --workdir="results/$table" "${only[@]}" || echo "== $job failed (exit $?)"
done
