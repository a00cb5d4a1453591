#!/usr/bin/env bash
# The anomaly-detection workflow on MNIST with digit 9 as the unseen anomaly:
# train, threshold at a 5% false-positive rate, score, then 50 feedback
# labels from a simulated user and score again. Prints the realised
# false-positive rate on normal test digits and the recall on 9s.
#
#   bash scripts/detect_mnist_demo.sh /tmp/detect_demo [extra train flags]
#
# The MNIST test split is cut in two: pool.npy (first 5000 digits), the data
# a user scores and labels mistakes in, and eval.npy (last 5000), on which
# the rates are measured. Labels are used only by the simulated user and the
# measurement, never by the detector.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: detect_mnist_demo.sh OUTDIR [train flags]}
shift
PY=${PYTHON:-.venv/bin/python}
RUN="$OUT/run"
mkdir -p "$OUT"

"$PY" -m experiments.train --config=configs/mnist_dense.py --workdir="$RUN" \
  --config.data.held_out_class=9 --config.data.label_fraction=0.1 \
  --config.train.num_steps=2000 --config.train.patience=0 "$@"

# The test split as the "new data", and its labels for the measurement.
"$PY" - "$RUN" "$OUT" <<'EOF'
import sys
import numpy as np
from ssvae import run_dir
from ssvae.data import registry
run, out = sys.argv[1:]
test = registry.load_dataset(run_dir.load_config(run).data).test
for name, rows in (("pool", slice(0, 5000)), ("eval", slice(5000, None))):
  np.save(f"{out}/{name}.npy", (test.x[rows] * 255).round().astype(np.uint8))
  np.save(f"{out}/{name}_labels.npy", test.y[rows])
EOF

measure() {  # CSV LABELS: realised FPR on normal digits, recall on 9s
  "$PY" - "$1" "$2" <<'EOF'
import csv, sys
import numpy as np
flags = np.array([int(r["flag"]) for r in csv.DictReader(open(sys.argv[1]))])
is_nine = np.load(sys.argv[2]) == 9
print(f"{sys.argv[1]}: realised FPR on {np.sum(~is_nine)} normal test digits "
      f"{flags[~is_nine].mean():.4f}; recall on {is_nine.sum()} nines "
      f"{flags[is_nine].mean():.4f}")
EOF
}

"$PY" -m experiments.detect --workdir="$RUN" --data="$OUT/pool.npy" \
  --target_fpr=0.05 --out="$OUT/pool.csv"
"$PY" -m experiments.detect --workdir="$RUN" --data="$OUT/eval.npy" \
  --out="$OUT/eval.csv"
head -5 "$OUT/eval.csv"
measure "$OUT/eval.csv" "$OUT/eval_labels.npy"

# A simulated user labels 50 of the detector's mistakes in the pool: half
# flagged normal digits (false_positive), half missed 9s (false_negative).
"$PY" - "$OUT" <<'EOF'
import csv, sys
import numpy as np
from ssvae.detect import feedback
out = sys.argv[1]
rows = list(csv.DictReader(open(f"{out}/pool.csv")))
scores = np.array([float(r["score"]) for r in rows])
flagged = np.array([r["flag"] == "1" for r in rows])
is_nine = np.load(f"{out}/pool_labels.npy") == 9
# The detector's own flags: any threshold between flagged and unflagged.
threshold = scores[flagged].min() if flagged.any() else np.inf
labels = feedback.select_feedback(scores, is_nine, 50, rng=0,
                                  threshold=threshold)
with open(f"{out}/feedback.csv", "w") as f:
  f.write("index,label\n")
  f.writelines(f"{i},false_positive\n" for i in labels.false_positive_idx)
  f.writelines(f"{i},false_negative\n" for i in labels.false_negative_idx)
print(f"feedback.csv: {len(labels.false_positive_idx)} false_positive, "
      f"{len(labels.false_negative_idx)} false_negative")
EOF

"$PY" -m experiments.detect --workdir="$RUN" --data="$OUT/pool.npy" \
  --feedback="$OUT/feedback.csv" --out="$OUT/pool_after.csv"
"$PY" -m experiments.detect --workdir="$RUN" --data="$OUT/eval.npy" \
  --out="$OUT/eval_after.csv"
head -5 "$OUT/eval_after.csv"
measure "$OUT/eval_after.csv" "$OUT/eval_labels.npy"
