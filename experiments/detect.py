r"""Anomaly detection with a trained run: score, flag, learn from feedback.

  # First call: set the threshold (saved to WORKDIR/detector.json) and score.
  python -m experiments.detect --workdir=workdirs/mnist_dense \
      --data=new_images.npy --target_fpr=0.05 --out=scores.csv
  # Later calls reuse the saved threshold.
  python -m experiments.detect --workdir=workdirs/mnist_dense \
      --data=more_images.npy --out=more_scores.csv
  # Feedback on rows of a scored file fine-tunes the detector, then scores.
  python -m experiments.detect --workdir=workdirs/mnist_dense \
      --data=new_images.npy --feedback=feedback.csv --out=scores.csv

--data: .npy, .npz (array 'x' or --npz_key) or IDX images (*-ubyte[.gz]),
shaped like the training inputs ([N, 28, 28, 1], [N, 28, 28] or [N, 784]
for MNIST); uint8 values are read as 0..255 images. --feedback: a CSV with
header `index,label` and rows `17,false_positive` or `4,false_negative`,
indices being rows of --data. The CSV written has one row per input: index,
score (-log reconstruction probability; higher = more anomalous), flag (1 =
above the threshold), predicted_class (models with a classifier) and, after
feedback, raw_score, p_false_positive and p_false_negative.

Bad input ends with one line `error: ...` and exit status 2 (the error
boundary of ssvae.cli); --traceback shows its traceback.
"""

import os

from absl import flags

from ssvae import cli
from ssvae import errors
from ssvae.detect import detector as detect
from ssvae.detect import inputs as detect_data

_WORKDIR = flags.DEFINE_string("workdir", None, "A trained run's directory "
                               "(from experiments.train).")
_DATA = flags.DEFINE_string("data", None, "File to score: .npy, .npz or IDX "
                            "images.")
_OUT = flags.DEFINE_string("out", None, "CSV to write (default: "
                           "WORKDIR/detect/<data file name>.csv).")
_STATE = flags.DEFINE_enum("state", None, list(detect.STATES),
                           "Which state of the run scores (default: the "
                           "saved detector's, else selected).")
_SEED_INDEX = flags.DEFINE_integer("seed_index", None, "Which of the run's "
                                   "seeds scores (default: saved, else 0).")
_PERCENTILE = flags.DEFINE_float(
    "threshold_percentile", None, "Set the threshold to this percentile of "
    "the scores of the run's normal validation points (e.g. 99).")
_TARGET_FPR = flags.DEFINE_float(
    "target_fpr", None, "Set the threshold so that this fraction of the "
    "run's normal validation points is flagged (e.g. 0.05).")
_NUM_SAMPLES = flags.DEFINE_integer(
    "num_samples", None, "Monte-Carlo samples per score (default: saved, "
    "else the run's config.anomaly_samples); changing it needs a new "
    "threshold.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", None, "Points per scoring "
                                   "batch (default: config.train."
                                   "eval_batch_size).")
_NPZ_KEY = flags.DEFINE_string("npz_key", "", "Array of an .npz file to "
                               "score (default: 'x', or its only array).")
_FEEDBACK = flags.DEFINE_string(
    "feedback", None, "CSV of (index,label) rows, label false_positive or "
    "false_negative, index a row of --data: fine-tunes the detector first.")
_FINETUNE_STEPS = flags.DEFINE_integer("finetune_steps", 500, "Training "
                                       "steps of a feedback fine-tuning.")
flags.mark_flags_as_required(["workdir", "data"])


def _out_path() -> str:
  if _OUT.value:
    return _OUT.value
  name = os.path.basename(_DATA.value).split(".")[0] or "scores"
  return os.path.join(_WORKDIR.value, "detect", f"{name}.csv")


def _check_out(out: str) -> None:
  """Refuses an --out that cannot be written, before any scoring (creates
  nothing)."""
  if os.path.isdir(out):
    raise errors.UserInputError(f"--out={out} is a directory; name a file.")
  existing = os.path.dirname(os.path.abspath(out))
  while not os.path.exists(existing):
    existing = os.path.dirname(existing)
  if not os.path.isdir(existing) or not os.access(existing, os.W_OK):
    raise errors.UserInputError(
        f"--out={out}: cannot write below {existing}.")


def run() -> None:
  """The whole command; raises errors.UserInputError on bad input."""
  if _FINETUNE_STEPS.value < 1:
    raise errors.UserInputError(
        f"--finetune_steps={_FINETUNE_STEPS.value}: fine-tuning needs a "
        "positive number of steps.")
  request = detect.threshold_request(_PERCENTILE.value, _TARGET_FPR.value)
  out = _out_path()
  _check_out(out)
  array = detect_data.read_array(_DATA.value, _NPZ_KEY.value)
  detector = detect.load(_WORKDIR.value, state=_STATE.value,
                         seed_index=_SEED_INDEX.value,
                         num_samples=_NUM_SAMPLES.value,
                         batch_size=_BATCH_SIZE.value)
  x = detect_data.model_inputs(array, detector.base.dataset.input_shape,
                               detector.base.dataset.likelihood, _DATA.value)
  if _FEEDBACK.value:
    labels = detect_data.read_feedback_csv(_FEEDBACK.value, len(x))
    saved = detector.settings.threshold
    rule = request or (saved and (saved.rule, saved.level))
    if not rule:
      raise errors.UserInputError(
          "No threshold rule yet: pass --target_fpr or "
          "--threshold_percentile with the first feedback.")
    print(f"Fine-tuning on {len(labels)} feedback labels "
          f"({_FINETUNE_STEPS.value} steps)...")
    detector = detect.with_feedback(detector, x, labels, _FINETUNE_STEPS.value,
                                    *rule, progress=True)
    info = detector.settings.feedback
    print(f"Fine-tuned on {info.num_false_positive} false positives and "
          f"{info.num_false_negative} false negatives so far: "
          f"{os.path.join(_WORKDIR.value, info.directory)}.")
  elif request:
    detector = detect.with_threshold(detector, *request, progress=True)
  if detector.settings.threshold is None:
    raise errors.UserInputError(
        f"{_WORKDIR.value} has no saved threshold for this state and seed: "
        "pass --target_fpr (e.g. 0.05) or --threshold_percentile (e.g. 99).")
  if request or _FEEDBACK.value:
    print(f"Saved {detect.describe(detector.settings.threshold)} to "
          f"{detect.save(detector)}.")
  else:
    print(f"Using the saved {detect.describe(detector.settings.threshold)}.")
  scores = detect.score(detector, x, progress=True)
  flagged = detect.flags(detector, scores)
  os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
  detect.write_csv(out, scores, flagged)
  print(f"Scored {len(x)} points from {_DATA.value}: {int(flagged.sum())} "
        f"flagged ({flagged.mean():.2%}). Wrote {out}.")


def main(_):
  cli.setup_logging()
  run()


if __name__ == "__main__":
  cli.run(main)
