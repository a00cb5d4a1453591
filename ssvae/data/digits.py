"""scikit-learn's bundled 8x8 digits: the default data set, no download."""

import numpy as np
from sklearn import datasets as sklearn_datasets

from ssvae.data import dataset as dataset_lib

NUM_TRAIN = 1500  # Of 1797 images; the remaining 297 form the test split.
MAX_PIXEL = 16.0  # Pixel values are counts 0..16.
NUM_CLASSES = 10


def load_digits_dataset(num_train: int = NUM_TRAIN) -> dataset_lib.Dataset:
  """Digits as x float32 [N, 8, 8, 1] in [0, 1], y int32 [N].

  The split is the first `num_train` images vs the rest: deterministic and
  independent of any RNG (the file is ordered roughly class-cyclically, so
  both splits hold all classes in near-equal numbers).
  """
  bunch = sklearn_datasets.load_digits()
  x = (bunch.images.astype(np.float32) / MAX_PIXEL)[..., np.newaxis]
  y = bunch.target.astype(np.int32)
  if not 0 < num_train < len(x):
    raise ValueError(
        f"num_train must be in 1..{len(x) - 1} for digits, got {num_train}.")
  return dataset_lib.Dataset(
      name="digits",
      train=dataset_lib.Split(x=x[:num_train], y=y[:num_train]),
      test=dataset_lib.Split(x=x[num_train:], y=y[num_train:]),
      num_classes=NUM_CLASSES,
      likelihood="bernoulli",
      class_names=tuple(str(digit) for digit in range(NUM_CLASSES)))
