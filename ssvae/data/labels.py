"""Which training points keep their labels, and class hold-out."""

import dataclasses
from typing import Optional

import numpy as np

from ssvae import errors
from ssvae.data import dataset as dataset_lib

# The label of a point that has none (a user's own data, ssvae.data.arrays).
UNLABELED = -1


def _round_half_up(value: float) -> int:
  # Python's round() rounds halves to even; half-up is easier to predict.
  return int(np.floor(value + 0.5))


def _check_labels(y: np.ndarray, num_classes: int) -> None:
  if y.ndim not in (1, 2):
    raise errors.DataError(
        f"Labels y must be [N] or [N, F], got shape {y.shape}.")
  if not np.issubdtype(y.dtype, np.integer):
    raise errors.DataError(f"Labels y must be integers, got dtype {y.dtype}.")
  classes = y if y.ndim == 1 else y[:, 0]
  lowest = UNLABELED if y.ndim == 1 else 0
  if classes.size and (classes.min() < lowest
                       or classes.max() >= num_classes):
    raise errors.DataError(
        f"Labels must lie in 0..{num_classes - 1} (num_classes="
        f"{num_classes}; {UNLABELED} = unlabeled for [N] labels), found "
        f"{classes.min()}..{classes.max()}.")


def labeled_rows(y: np.ndarray) -> np.ndarray:
  """Sorted int32 indices of the points that have a label (y != UNLABELED;
  every point of [N, F] multi-factor labels)."""
  y = np.asarray(y)
  if y.ndim == 2:
    return np.arange(len(y), dtype=np.int32)
  return np.flatnonzero(y != UNLABELED).astype(np.int32)


def _resolve_request(num_labels: Optional[int],
                     fraction: Optional[float]) -> tuple[Optional[int],
                                                         Optional[float]]:
  """(num_labels, fraction) with at most one set; (None, None) = all."""
  if num_labels == -1:
    num_labels = None
  if num_labels is not None and fraction is not None:
    raise errors.ConfigError(
        f"Give either num_labels ({num_labels}) or fraction ({fraction}), "
        "not both.")
  if num_labels is not None and num_labels < 0:
    raise errors.ConfigError(
        f"num_labels must be >= 0 or -1 (all), got {num_labels}.")
  if fraction is not None and not 0.0 <= fraction <= 1.0:
    raise errors.ConfigError(f"fraction must lie in [0, 1], got {fraction}.")
  return num_labels, fraction


def _per_class_counts(class_sizes: np.ndarray, num_labels: Optional[int],
                      fraction: Optional[float]) -> np.ndarray:
  """Labels to draw from each present class."""
  if fraction is not None:
    return np.array([_round_half_up(fraction * size) for size in class_sizes])
  num_present = len(class_sizes)
  if num_labels % num_present:
    raise errors.ConfigError(
        f"num_labels={num_labels} is not divisible by the {num_present} "
        "classes present, so the labels cannot be class-balanced.")
  return np.full(num_present, num_labels // num_present)


def select_labeled_indices(y: np.ndarray,
                           *,
                           num_labels: Optional[int] = None,
                           fraction: Optional[float] = None,
                           num_classes: int,
                           seed: int) -> np.ndarray:
  """Indices of the training points whose labels the model may see.

  Class-balanced for [N] labels: num_labels / (classes present) per class, or
  round(fraction * class size) per class. For [N, F] multi-factor labels the
  points are drawn uniformly without balancing. Points labeled UNLABELED
  are never chosen ("all" means every labeled point).

  Args:
    y: int labels [N] (UNLABELED where a point has none) or [N, F].
    num_labels: how many labeled points; None or -1 means all.
    fraction: instead of num_labels, the share of each class in [0, 1].
    num_classes: classes of y (of column 0 for [N, F]); used for validation.
    seed: the subset is a deterministic function of the seed.

  Returns:
    Sorted int32 indices into y.
  """
  y = np.asarray(y)
  _check_labels(y, num_classes)
  num_labels, fraction = _resolve_request(num_labels, fraction)
  candidates = labeled_rows(y)
  if num_labels is None and fraction is None:
    return candidates
  num_points = len(candidates)
  if num_labels is not None and num_labels > num_points:
    what = ("training points" if num_points == len(y) else
            f"labeled training points (of {len(y)})")
    raise errors.ConfigError(
        f"Asked for {num_labels} labels but there are only {num_points} "
        f"{what}.")
  if num_labels == 0:
    return np.zeros(0, np.int32)
  rng = np.random.default_rng(seed)
  if y.ndim == 2:
    count = (num_labels if fraction is None
             else _round_half_up(fraction * num_points))
    chosen = rng.choice(num_points, size=count, replace=False)
    return np.sort(chosen).astype(np.int32)
  classes, class_sizes = np.unique(y[candidates], return_counts=True)
  counts = _per_class_counts(class_sizes, num_labels, fraction)
  chosen = []
  for cls, size, count in zip(classes, class_sizes, counts):
    if count > size:
      raise errors.ConfigError(
          f"Asked for {count} labels of class {cls} but it has only {size} "
          "training points.")
    chosen.append(rng.choice(np.flatnonzero(y == cls), size=count,
                             replace=False))
  return np.sort(np.concatenate(chosen)).astype(np.int32)


def _stratified_counts(class_sizes: np.ndarray, size: int) -> np.ndarray:
  """Per-class share of `size` proportional to class size (largest remainder)."""
  exact = size * class_sizes / class_sizes.sum()
  counts = np.floor(exact).astype(int)
  order = np.argsort(-(exact - counts), kind="stable")
  counts[order[:size - counts.sum()]] += 1
  return counts


def split_validation(dataset: dataset_lib.Dataset, size: int,
                     seed: int) -> dataset_lib.Dataset:
  """Moves `size` training points, class-stratified, into dataset.validation.

  The choice is a deterministic function of `seed` (config.data.split_seed),
  the same for every training seed of an experiment. Stratified by class
  (by factor 0 for [N, F] labels). size=0 leaves the data set unchanged.
  """
  train = dataset.train
  if size == 0:
    return dataset
  if not 0 < size < len(train):
    raise errors.ConfigError(
        f"data.validation_size={size} must be below the {len(train)} "
        f"training points of {dataset.name!r}.")
  classes = train.y if train.y.ndim == 1 else train.y[:, 0]
  values, sizes = np.unique(classes, return_counts=True)
  rng = np.random.default_rng(seed)
  chosen = np.concatenate([
      rng.choice(np.flatnonzero(classes == cls), size=count, replace=False)
      for cls, count in zip(values, _stratified_counts(sizes, size))])
  is_validation = np.zeros(len(train), bool)
  is_validation[chosen] = True
  return dataclasses.replace(
      dataset,
      train=dataset_lib.Split(x=train.x[~is_validation],
                              y=train.y[~is_validation]),
      validation=dataset_lib.Split(x=train.x[is_validation],
                                   y=train.y[is_validation]))


def hold_out_class(dataset: dataset_lib.Dataset,
                   cls: int) -> dataset_lib.Dataset:
  """Removes class `cls` from the training split only (anomaly detection).

  The test split keeps every class so the held-out one can be scored as an
  anomaly; num_classes is unchanged so the y head keeps its size. For
  multi-factor labels, the class is that of factor 0.
  """
  if isinstance(cls, bool) or not isinstance(cls, (int, np.integer)):
    raise errors.ConfigError(f"Held-out class must be an int, got {cls!r}.")
  if not 0 <= cls < dataset.num_classes:
    raise errors.ConfigError(
        f"Held-out class {cls} is not in 0..{dataset.num_classes - 1} of "
        f"data set {dataset.name!r}.")
  train = dataset.train
  classes = train.y if train.y.ndim == 1 else train.y[:, 0]
  keep = classes != cls
  if keep.all():
    raise errors.ConfigError(
        f"Held-out class {cls} has no training points in data set "
        f"{dataset.name!r}.")
  return dataclasses.replace(
      dataset, train=dataset_lib.Split(x=train.x[keep], y=train.y[keep]))
