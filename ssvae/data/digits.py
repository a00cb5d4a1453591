"""scikit-learn's bundled 8x8 digits: the default data set, no download."""

import numpy as np
from sklearn import datasets as sklearn_datasets
from sklearn import model_selection

from ssvae.data import dataset as dataset_lib

NUM_TRAIN = 1500  # Of 1797 images; the remaining 297 form the test split.
MAX_PIXEL = 16.0  # Pixel values are counts 0..16.
NUM_CLASSES = 10
SPLIT_SEED = 0


def split_indices(labels: np.ndarray, num_train: int,
                  seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
  """Sorted (train, test) indices: a class-stratified shuffle split.

  Not the file's order: its last few hundred images come from other writers
  than the rest, so a first-N split would give a test set from another
  distribution than the training (and validation) images.
  """
  train, test = model_selection.train_test_split(
      np.arange(len(labels)), train_size=num_train, stratify=labels,
      random_state=seed)
  return np.sort(train), np.sort(test)


def load_digits_dataset(num_train: int = NUM_TRAIN) -> dataset_lib.Dataset:
  """Digits as x float32 [N, 8, 8, 1] in [0, 1], y int32 [N].

  The split is deterministic (`split_indices` with a fixed seed), so every
  run of every version sees the same train and test images.
  """
  bunch = sklearn_datasets.load_digits()
  x = (bunch.images.astype(np.float32) / MAX_PIXEL)[..., np.newaxis]
  y = bunch.target.astype(np.int32)
  if not NUM_CLASSES <= num_train <= len(x) - NUM_CLASSES:
    raise ValueError(
        f"num_train must be in {NUM_CLASSES}..{len(x) - NUM_CLASSES} for "
        f"digits (each split needs every class), got {num_train}.")
  train, test = split_indices(y, num_train)
  return dataset_lib.Dataset(
      name="digits",
      train=dataset_lib.Split(x=x[train], y=y[train]),
      test=dataset_lib.Split(x=x[test], y=y[test]),
      num_classes=NUM_CLASSES,
      likelihood="bernoulli",
      class_names=tuple(str(digit) for digit in range(NUM_CLASSES)))
