"""load_dataset: one entry point from a config's `data` block to a Dataset."""

import importlib
from typing import Any

from ssvae import errors
from ssvae.data import dataset as dataset_lib

# synthetic: a tiny stand-in in the official file format (IDX data sets;
# what the quick variants of their tables read).
SOURCES = ("auto", "files", "tfds", "embedded", "synthetic")
EMBEDDED_NAMES = ("digits",)
IDX_NAMES = ("mnist", "fashion_mnist")
# Written as separate modules ssvae/data/<name>.py exposing
# load(source: str, data_dir: str) -> Dataset; imported on first use.
MODULE_NAMES = ("dsprites", "smallnorb", "uci_har")
# A user's own files, data.train_path and data.test_path (ssvae.data.arrays).
ARRAYS_NAME = "arrays"
NAMES = EMBEDDED_NAMES + IDX_NAMES + MODULE_NAMES + (ARRAYS_NAME,)
# Validation points held out of the training split when
# data.validation_size = -1: Kingma et al.'s 50k/10k split for the MNISTs,
# DEFAULT_VALIDATION_FRACTION of the training points for the rest.
VALIDATION_SIZES = {"mnist": 10000, "fashion_mnist": 10000}
DEFAULT_VALIDATION_FRACTION = 0.1


def default_validation_size(name: str, num_train: int) -> int:
  return VALIDATION_SIZES.get(
      name, int(round(DEFAULT_VALIDATION_FRACTION * num_train)))


def _load_digits(source: str) -> dataset_lib.Dataset:
  if source not in ("auto", "embedded"):
    raise errors.ConfigError(
        f"data.source={source!r} is not available for digits, which is "
        "embedded in scikit-learn; use 'auto' or 'embedded'.")
  from ssvae.data import digits  # pylint: disable=g-import-not-at-top
  return digits.load_digits_dataset()


def _load_from_module(name: str, source: str,
                      data_dir: str) -> dataset_lib.Dataset:
  module_name = f"ssvae.data.{name}"
  try:
    module = importlib.import_module(module_name)
  except ModuleNotFoundError as err:
    if err.name != module_name:
      raise  # A dependency of the module is missing: show the real cause.
    raise errors.ConfigError(
        f"Data set {name!r} needs module {module_name}, which is not "
        "installed.") from err
  dataset = module.load(source, data_dir)
  if not isinstance(dataset, dataset_lib.Dataset):
    raise TypeError(
        f"{module_name}.load returned {type(dataset).__name__}, expected "
        "ssvae.data.dataset.Dataset.")
  return dataset


def load_dataset(data_config: Any) -> dataset_lib.Dataset:
  """Loads the data set a config's `data` block names.

  Args:
    data_config: object with fields name, source ('auto' | 'files' | 'tfds' |
      'embedded') and data_dir ('' = known locations / tfds default). For tfds
      sources data_dir is the tfds data_dir. For name 'arrays', the fields
      ssvae.data.arrays.load reads. An optional verify_checksums
      (default True) checks MNIST's and Fashion-MNIST's IDX files against
      the official ones (ssvae.data.idx.check_official).

  Returns:
    The Dataset, in host memory.
  """
  name = data_config.name
  source = getattr(data_config, "source", "auto") or "auto"
  data_dir = getattr(data_config, "data_dir", "") or ""
  verify_checksums = getattr(data_config, "verify_checksums", True)
  if source not in SOURCES:
    raise errors.ConfigError(
        f"Unknown data.source {source!r}; expected one of {SOURCES}.")
  if name in EMBEDDED_NAMES:
    return _load_digits(source)
  if name in IDX_NAMES:
    from ssvae.data import mnist  # pylint: disable=g-import-not-at-top
    return mnist.load(source, data_dir, name=name,
                      verify_checksums=verify_checksums)
  if name in MODULE_NAMES:
    return _load_from_module(name, source, data_dir)
  if name == ARRAYS_NAME:
    from ssvae.data import arrays  # pylint: disable=g-import-not-at-top
    return arrays.load(data_config)
  raise errors.ConfigError(
      f"Unknown data set name {name!r}; expected one of {NAMES}.")
