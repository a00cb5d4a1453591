"""A user's own data (data.name = "arrays"): train and test splits from files.

Each split is an `.npy` file (inputs only: every point unlabeled) or an
`.npz` file with the array `x` and optionally `y`, read with
allow_pickle=False (ssvae.data.array_files):
  x: images [N, H, W, C] or time series [N, T, features] (floats), or
    uint8 images [N, H, W(, C)] in 0..255 (divided by 255, as the MNIST
    loaders do).
  y: integer class labels [N], -1 (ssvae.data.UNLABELED) where a point has
    none; absent means no point is labeled.
The likelihood is Bernoulli for images whose values lie in [0, 1] and
Gaussian otherwise (every time series), unless data.likelihood names one.
The inputs are used as given: standardize real-valued features beforehand
(the Gaussian decoder trains best on unit-scale data), and score new data
on the same scale. The number of classes is one more than the largest label
unless data.num_classes sets it (a class may have no labeled point yet).
"""

from typing import Any

import numpy as np

from ssvae import errors
from ssvae import model_spec
from ssvae.data import array_files
from ssvae.data import dataset as dataset_lib
from ssvae.data import idx
from ssvae.data import labels as labels_lib

NAME = "arrays"
AUTO = "auto"
LIKELIHOODS = (AUTO, model_spec.BERNOULLI, model_spec.GAUSSIAN)
_ARRAY_NAMES = ("x", "y")


def _read_split_arrays(path: str, field: str) -> tuple[np.ndarray,
                                                       np.ndarray]:
  """(x, y) of one file; y all UNLABELED when the file has none."""
  if not path:
    raise errors.ConfigError(
        f"config.{field} is empty: name the .npy or .npz file of this split "
        "(data.name='arrays').")
  if not path.endswith((".npy", ".npz")):
    raise errors.ConfigError(
        f"config.{field}={path!r}: expected a .npy or .npz file.")
  array_files.check_file(path)
  arrays = array_files.load_numpy(path)
  if "" in arrays:  # .npy: the inputs alone
    x, y = arrays[""], None
  else:
    unknown = sorted(set(arrays) - set(_ARRAY_NAMES))
    if "x" not in arrays or unknown:
      raise array_files.ArrayFileError(
          f"{path} holds arrays {sorted(arrays)}; expected 'x' (the inputs) "
          "and optionally 'y' (integer labels, -1 = unlabeled).")
    x, y = arrays["x"], arrays.get("y")
  x = array_files.check_examples(x, path)
  return _inputs(x, path), _labels(y, len(x), path)


def _inputs(x: np.ndarray, path: str) -> np.ndarray:
  if x.dtype == np.uint8 and x.ndim in (3, 4):
    return idx.images_to_unit_float(x)
  if x.ndim not in (3, 4):
    raise array_files.ArrayFileError(
        f"{path}: x has shape {x.shape}; expected images [N, H, W, C] or "
        "time series [N, T, features].")
  return x.astype(np.float32)


def _labels(y, num_points: int, path: str) -> np.ndarray:
  if y is None:
    return np.full(num_points, labels_lib.UNLABELED, np.int32)
  if y.ndim != 1 or len(y) != num_points:
    raise array_files.ArrayFileError(
        f"{path}: y has shape {y.shape}; expected one label per input, "
        f"[{num_points}].")
  if not np.issubdtype(y.dtype, np.integer):
    raise array_files.ArrayFileError(
        f"{path}: y holds {y.dtype} values; expected integer class labels "
        "(-1 = unlabeled).")
  if y.size and y.min() < labels_lib.UNLABELED:
    raise array_files.ArrayFileError(
        f"{path}: y holds label {y.min()}; labels are 0, 1, ... and -1 "
        "marks an unlabeled point.")
  return y.astype(np.int32)


def _num_classes(requested: int, splits: dict) -> int:
  largest = max(int(s.y.max()) for s in splits.values())
  if requested <= 0:
    return max(largest + 1, 1)
  if largest >= requested:
    raise errors.ConfigError(
        f"config.data.num_classes={requested}, but the files hold label "
        f"{largest}; labels must lie in 0..{requested - 1} (or -1).")
  return requested


def _likelihood(requested: str, splits: dict) -> str:
  if requested not in LIKELIHOODS:
    raise errors.ConfigError(
        f"config.data.likelihood={requested!r} is not one of {LIKELIHOODS}.")
  in_unit_range = all(s.x.min() >= 0 and s.x.max() <= 1
                      for s in splits.values())
  is_image = splits["train"].x.ndim == 4
  if requested == AUTO:
    return (model_spec.BERNOULLI if is_image and in_unit_range
            else model_spec.GAUSSIAN)
  if requested == model_spec.BERNOULLI and not in_unit_range:
    raise errors.ConfigError(
        "config.data.likelihood='bernoulli' needs inputs in [0, 1]; scale "
        "the data (e.g. divide 0..255 images by 255) or use 'gaussian'.")
  return requested


def load(data_config: Any) -> dataset_lib.Dataset:
  """The Dataset of config.data's train_path and test_path files.

  data_config fields: train_path, test_path, and optionally likelihood
  (LIKELIHOODS, default 'auto') and num_classes (default 0: from the labels).
  """
  source = data_config.get("source", AUTO) or AUTO
  if source not in (AUTO, "files"):
    raise errors.ConfigError(
        f"config.data.source={source!r}: data.name='arrays' reads the files "
        "data.train_path and data.test_path; use 'auto' or 'files'.")
  splits = {}
  for split in ("train", "test"):
    field = f"data.{split}_path"
    x, y = _read_split_arrays(data_config.get(f"{split}_path", ""), field)
    splits[split] = dataset_lib.Split(x=x, y=y)
  if splits["test"].x.shape[1:] != splits["train"].x.shape[1:]:
    raise array_files.ArrayFileError(
        f"{data_config.test_path} holds examples of shape "
        f"{splits['test'].x.shape[1:]}, but {data_config.train_path} holds "
        f"{splits['train'].x.shape[1:]}; both splits need one shape.")
  num_classes = _num_classes(int(data_config.get("num_classes", 0)), splits)
  return dataset_lib.Dataset(
      name=NAME, train=splits["train"], test=splits["test"],
      num_classes=num_classes,
      likelihood=_likelihood(data_config.get("likelihood", AUTO), splits),
      class_names=tuple(str(c) for c in range(num_classes)))
