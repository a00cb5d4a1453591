"""Learnable synthetic UCI HAR files in the official "UCI HAR Dataset" layout.

Each activity has its own frequency and amplitude on every channel, with a
random phase, a random per-window gain and Gaussian noise, so a model that
learns nothing stays at chance (1/6) and one that learns beats it clearly.
"""

import numpy as np

from ssvae.data import uci_har

SAMPLE_RATE_HZ = 50.0
FREQUENCIES_HZ = (0.6, 1.2, 1.9, 2.7, 3.6, 4.6)  # one per activity
AMPLITUDES = (1.0, 1.6, 0.7, 1.3, 0.5, 2.0)
NOISE_STD = 0.4


def class_windows(label: int, count: int, rng: np.random.Generator,
                  channel: int) -> np.ndarray:
  """[count, 128] windows of activity `label` (0-based) on one channel."""
  t = np.arange(uci_har.WINDOW_LENGTH) / SAMPLE_RATE_HZ
  phase = rng.uniform(0, 2 * np.pi, size=(count, 1))
  gain = AMPLITUDES[label] * rng.uniform(0.8, 1.2, size=(count, 1))
  wave = np.sin(2 * np.pi * FREQUENCIES_HZ[label] * t * (1 + 0.1 * channel)
                + phase)
  return gain * wave + rng.normal(scale=NOISE_STD,
                                  size=(count, uci_har.WINDOW_LENGTH))


def write_synthetic_har(base_dir, n_train_per_class=10, n_test_per_class=2,
                        seed=0):
  """Writes the files under base_dir / 'UCI HAR Dataset'; returns base_dir."""
  rng = np.random.default_rng(seed)
  root = base_dir / uci_har.FOLDER_NAME
  for split, per_class in (("train", n_train_per_class),
                           ("test", n_test_per_class)):
    labels = np.repeat(np.arange(uci_har.NUM_CLASSES), per_class)
    signals = root / split / "Inertial Signals"
    signals.mkdir(parents=True)
    for c, channel in enumerate(uci_har.ALL_CHANNELS):
      rows = np.concatenate([class_windows(k, per_class, rng, c)
                             for k in range(uci_har.NUM_CLASSES)])
      np.savetxt(signals / f"{channel}_{split}.txt", rows, fmt="%.7e")
    (root / split / f"y_{split}.txt").write_text(
        "".join(f"{v + 1}\n" for v in labels))
  (root / "activity_labels.txt").write_text("".join(
      f"{i} {name}\n" for i, name in enumerate(uci_har.CLASS_NAMES, 1)))
  return base_dir
