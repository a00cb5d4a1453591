r"""Training parity of the CNN's old and new paths (BUILD_NOTES, "CNN speed
on CPU").

  python -m benchmarks.cnn_parity [--steps=300] [--num_labels=100]
      [--num_seeds=2] [--workdir=/tmp/cnn_parity] [--data_dir=DIR]
      [--validation_size=-1]
  Smoke run on tiny MNIST-format files in DIR (tests/benchmarks_test.py):
  python -m benchmarks.cnn_parity --steps=1 --num_labels=10 --batch_size=8 \
      --validation_size=20 --data_dir=DIR --workdir=WORKDIR

Trains the paper's semi-supervised CNN (configs/mnist_cnn.py: MNIST from
../shared/data or --data_dir, validation split held out, --validation_size
points, -1 the data set's default) for --steps steps at
--num_labels labels, --num_seeds seeds, once on each path of
benchmarks/conv_step.py, each in its own process (XLA reads its flags once
per process):

  old: XLA's default flags, flax's conv layers, lax.scan chunks of 10;
  new: the library's XLA:CPU flags, fast_conv's forms, the config's chunk.

The same seeds give the same initial parameters and batches on both paths,
so the runs differ only in the order of float32 sums. Prints each seed's
test accuracy and ELBO at the last step, their mean ± std per path, and
the difference of the means in units of the seeds' standard deviation.
The last line is `examples_per_s=<new path> old_examples_per_s=<old path>
speedup=<ratio>`: training examples (steps x batch x seeds) per second of
each run's wall time (results.json's wall_s: the trainer's loop, its
compilation and evaluations included).
"""

import json
import os
import statistics
import subprocess
import sys

from absl import app
from absl import flags

from benchmarks import conv_step

_STEPS = flags.DEFINE_integer("steps", 300, "Training steps per run.")
_NUM_LABELS = flags.DEFINE_integer("num_labels", 100, "Labeled points.")
_NUM_SEEDS = flags.DEFINE_integer("num_seeds", 2, "Seeds per path.")
_WORKDIR = flags.DEFINE_string("workdir", "/tmp/cnn_parity",
                               "Parent of the two runs' workdirs.")
_DATA_DIR = flags.DEFINE_string(
    "data_dir", "", "Directory of the MNIST IDX files; '' searches the "
    "known locations (../shared/data/mnist first).")
_VALIDATION_SIZE = flags.DEFINE_integer(
    "validation_size", -1, "Validation points held out of the training "
    "split; -1: the data set's default (10000 for MNIST).")
_BATCH_SIZE = flags.DEFINE_integer(
    "batch_size", 0, "Training batch size; 0: the config's (128).")
_PATH = flags.DEFINE_enum("parity_path", None, (conv_step.OLD, conv_step.NEW),
                          "Internal: train one path.")

METRICS = ("accuracy", "elbo")


def parity_config(path: str):
  """configs/mnist_cnn.py at the flags' size, on `path`'s settings."""
  from configs import mnist_cnn  # pylint: disable=g-import-not-at-top
  config = mnist_cnn.get_config()
  config.data.num_labels = _NUM_LABELS.value
  config.data.data_dir = _DATA_DIR.value
  config.data.validation_size = _VALIDATION_SIZE.value
  if _BATCH_SIZE.value:
    config.train.batch_size = _BATCH_SIZE.value
  config.train.num_steps = _STEPS.value
  config.train.num_seeds = _NUM_SEEDS.value
  config.train.eval_every = _STEPS.value
  config.train.checkpoint_every = _STEPS.value
  settings = conv_step.path_settings("cnn", path)
  config.train.steps_per_call = settings["steps_per_call"]
  config.train.scan_unroll = settings["scan_unroll"]
  config.model.conv_impl = settings["conv_impl"]
  return config


def worker(path: str) -> None:
  # pylint: disable=g-import-not-at-top
  from ssvae import train
  if path == conv_step.OLD:
    train.unrolled_scan = conv_step.lax_scan
  train.train_and_evaluate(parity_config(path),
                                os.path.join(_WORKDIR.value, path))


def read_results(path: str) -> dict:
  with open(os.path.join(_WORKDIR.value, path, "results.json")) as f:
    return json.load(f)


def examples_per_s(results: dict, path: str) -> float:
  """Training examples per second of a run's wall time."""
  batch_size = parity_config(path).train.batch_size
  return (results["step"] * batch_size * len(results["seeds"])
          / results["wall_s"])


def mean_std(values) -> str:
  return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def main(argv):
  del argv
  if _PATH.value:
    worker(_PATH.value)
    return
  if _NUM_SEEDS.value < 2:
    raise app.UsageError("--num_seeds must be >= 2 (seed noise needs two).")
  repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  for path in (conv_step.OLD, conv_step.NEW):
    subprocess.run(
        [sys.executable, "-m", "benchmarks.cnn_parity", f"--parity_path={path}",
         f"--steps={_STEPS.value}", f"--num_labels={_NUM_LABELS.value}",
         f"--num_seeds={_NUM_SEEDS.value}", f"--workdir={_WORKDIR.value}",
         f"--data_dir={_DATA_DIR.value}",
         f"--validation_size={_VALIDATION_SIZE.value}",
         f"--batch_size={_BATCH_SIZE.value}"],
        env=conv_step.worker_env(path), cwd=repo, check=True)
  runs = {p: read_results(p) for p in (conv_step.OLD, conv_step.NEW)}
  results = {p: run["last_metrics"] for p, run in runs.items()}
  print(f"CNN semi-supervised, MNIST, {_NUM_LABELS.value} labels, "
        f"{_STEPS.value} steps, seeds 0..{_NUM_SEEDS.value - 1}; test "
        "metrics at the last step")
  for metric in METRICS:
    old, new = (results[p][metric] for p in (conv_step.OLD, conv_step.NEW))
    noise = max(statistics.stdev(old), statistics.stdev(new))
    gap = abs(statistics.mean(old) - statistics.mean(new))
    # Seeds that agree exactly (a tiny test set) leave no noise to scale by.
    scaled = gap / noise if noise else (float("inf") if gap else 0.0)
    print(f"  {metric}: old {[round(v, 4) for v in old]} = "
          f"{mean_std(old)}; new {[round(v, 4) for v in new]} = "
          f"{mean_std(new)}; |difference of means| = "
          f"{scaled:.2f} x the larger seed std")
  rates = {p: examples_per_s(run, p) for p, run in runs.items()}
  print(f"examples_per_s={rates[conv_step.NEW]:.1f} "
        f"old_examples_per_s={rates[conv_step.OLD]:.1f} "
        f"speedup={rates[conv_step.NEW] / rates[conv_step.OLD]:.2f}")


if __name__ == "__main__":
  app.run(main)
