"""In-memory data set containers returned by every loader."""

import dataclasses
import os
import pathlib
from typing import Optional, Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class Split:
  """One split held in host memory.

  x: float32 [N, *input_shape]. Images are [N, H, W, C] scaled to [0, 1];
    time series are [N, T, channels] (real-valued, Gaussian likelihood;
    UCI-HAR is standardized per channel with train statistics).
  y: int32 [N] class labels, or [N, F] factor classes for multi-factor data.
  """
  x: np.ndarray
  y: np.ndarray

  def __post_init__(self):
    if len(self.x) != len(self.y):
      raise ValueError(
          f"Split has {len(self.x)} inputs but {len(self.y)} labels.")

  def __len__(self) -> int:
    return len(self.x)


@dataclasses.dataclass(frozen=True)
class Dataset:
  """Train/test (and, once split off, validation) plus what models need.

  validation: points held out of the official training split for model
    selection (see labels.split_validation); None until split.

  num_classes: classes of the y head (for multi-factor data: of factor 0).
  likelihood: "bernoulli" (pixels in [0, 1]) or "gaussian" (real values).
  factor_sizes: for multi-factor data (dSprites, Small-NORB), the number of
    classes of each column of y; empty for single-label data.
  """
  name: str
  train: Split
  test: Split
  num_classes: int
  likelihood: str
  class_names: tuple = ()
  factor_names: tuple = ()
  factor_sizes: tuple = ()
  validation: Optional[Split] = None

  @property
  def input_shape(self) -> tuple:
    return tuple(self.train.x.shape[1:])


# A folder laid out as ../shared/data is (one subfolder per data set: mnist,
# fashion_mnist, dsprites, smallnorb, uci_har), searched first when set.
DATA_DIR_VARIABLE = "SSVAE_DATA_DIR"


def known_locations(name: str, known: Sequence) -> list[pathlib.Path]:
  """Where data set `name` is looked for when no data_dir is given:
  $SSVAE_DATA_DIR/<name> first (when the variable is set), then `known`
  (the loader's KNOWN_LOCATIONS), "~" expanded."""
  root = os.environ.get(DATA_DIR_VARIABLE)
  first = [os.path.join(root, name)] if root else []
  return [pathlib.Path(os.path.normpath(os.path.expanduser(str(location))))
          for location in [*first, *known]]


def why_not_a_directory(path: pathlib.Path) -> Optional[str]:
  """'does not exist' or 'is a file, not a directory'; None for a directory."""
  if path.is_dir():
    return None
  return "is a file, not a directory" if path.exists() else "does not exist"
