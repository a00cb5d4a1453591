r"""Synthetic sensor windows with a planted fault, for the own-data walkthrough.

  python -m experiments.make_sensor_windows --out_dir=windows

A machine's three vibration channels in windows of 32 readings. Normal
windows come from three operating modes (classes 0, 1, 2: sines of three
frequencies, random phase per channel, noise); a faulty window is a normal
one with a train of sharp impulses, as a damaged bearing gives. The
training split holds normal windows only. Writes into --out_dir:
  train_x.npy     training inputs, no labels        [N, 32, 3]
  train.npz       the same inputs, x and y: the mode of a --label_fraction
                  share of each mode's windows, -1 for the rest
  test.npz        test windows: x, and y the mode (-1 for faulty windows)
  new_x.npy       the test inputs alone, as new data to score
  new_is_fault.npy  1 where a window of new_x.npy is faulty (the truth the
                  detector does not see)
"""

import os

from absl import flags
import numpy as np

from ssvae import cli
from ssvae import errors
from ssvae.data import labels as labels_lib

WINDOW = 32
CHANNELS = 3
MODE_FREQUENCIES = (1.0, 2.0, 3.0)  # cycles per window
NOISE = 0.1
IMPULSE_EVERY, IMPULSE_HEIGHT = 8, 2.5

_OUT_DIR = flags.DEFINE_string("out_dir", None, "Directory to write into.")
_NUM_TRAIN = flags.DEFINE_integer("num_train", 3000, "Training windows.")
_NUM_TEST = flags.DEFINE_integer("num_test", 1000, "Test windows.")
_FAULT_FRACTION = flags.DEFINE_float("fault_fraction", 0.1, "Share of "
                                     "faulty test windows.")
_LABEL_FRACTION = flags.DEFINE_float("label_fraction", 0.01, "Share of each "
                                     "mode's training windows labeled in "
                                     "train.npz.")
_SEED = flags.DEFINE_integer("seed", 0, "Random seed.")


def windows(modes: np.ndarray, is_fault: np.ndarray,
            rng: np.random.Generator) -> np.ndarray:
  """float32 [N, WINDOW, CHANNELS] windows of the given modes and faults."""
  t = np.arange(WINDOW)[None, :, None] / WINDOW
  frequency = np.asarray(MODE_FREQUENCIES)[modes][:, None, None]
  phase = rng.uniform(0, 2 * np.pi, (len(modes), 1, CHANNELS))
  x = np.sin(2 * np.pi * frequency * t + phase)
  x += NOISE * rng.standard_normal(x.shape)
  start = rng.integers(0, IMPULSE_EVERY, len(modes))
  for i in np.flatnonzero(is_fault):
    x[i, start[i]::IMPULSE_EVERY, :] += IMPULSE_HEIGHT
  return x.astype(np.float32)


def make(num_train: int, num_test: int, fault_fraction: float,
         label_fraction: float, seed: int) -> dict:
  """{file name: arrays} of the files the module docstring lists."""
  if not 0 <= fault_fraction < 1 or not 0 <= label_fraction <= 1:
    raise errors.UserInputError(
        "--fault_fraction must lie in [0, 1) and --label_fraction in [0, 1].")
  rng = np.random.default_rng(seed)
  modes = rng.integers(0, len(MODE_FREQUENCIES), num_train)
  train_x = windows(modes, np.zeros(num_train, bool), rng)
  train_y = np.full(num_train, labels_lib.UNLABELED, np.int32)
  labeled = labels_lib.select_labeled_indices(
      modes, fraction=label_fraction, num_classes=len(MODE_FREQUENCIES),
      seed=seed)
  train_y[labeled] = modes[labeled]
  test_modes = rng.integers(0, len(MODE_FREQUENCIES), num_test)
  is_fault = rng.random(num_test) < fault_fraction
  test_x = windows(test_modes, is_fault, rng)
  test_y = np.where(is_fault, labels_lib.UNLABELED, test_modes)
  return {"train_x.npy": train_x,
          "train.npz": {"x": train_x, "y": train_y},
          "test.npz": {"x": test_x, "y": test_y.astype(np.int32)},
          "new_x.npy": test_x,
          "new_is_fault.npy": is_fault.astype(np.int32)}


def write(files: dict, out_dir: str) -> None:
  os.makedirs(out_dir, exist_ok=True)
  for name, content in files.items():
    path = os.path.join(out_dir, name)
    if isinstance(content, dict):
      np.savez(path, **content)
    else:
      np.save(path, content)


def main(argv):
  if len(argv) > 1:
    raise errors.UserInputError(f"Unexpected arguments: {argv[1:]}")
  files = make(_NUM_TRAIN.value, _NUM_TEST.value, _FAULT_FRACTION.value,
               _LABEL_FRACTION.value, _SEED.value)
  write(files, _OUT_DIR.value)
  labeled = int((files["train.npz"]["y"] >= 0).sum())
  print(f"Wrote {_NUM_TRAIN.value} training windows ({labeled} labeled in "
        f"train.npz) and {_NUM_TEST.value} test windows "
        f"({int(files['new_is_fault.npy'].sum())} faulty) to "
        f"{_OUT_DIR.value}.")


if __name__ == "__main__":
  flags.mark_flags_as_required(["out_dir"])
  cli.run(main)
