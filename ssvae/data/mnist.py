"""MNIST and Fashion-MNIST (the same format), from whichever source has them.

`load(source, data_dir, name=...)`, like the other data sets' modules:
'files' reads the official IDX files (ssvae.data.idx, checked against their
published MD5s), 'tfds' a prepared tensorflow-datasets copy
(ssvae.data.tfds_source), 'synthetic' a tiny stand-in written in the IDX
format (the quick variants), and 'auto' the files, then tfds.
"""

from ssvae import errors
from ssvae.data import dataset as dataset_lib
from ssvae.data import idx
from ssvae.data import tfds_source

NAMES = ("mnist", "fashion_mnist")


def load(source: str = "auto", data_dir: str = "", *, name: str = "mnist",
         verify_checksums: bool = True) -> dataset_lib.Dataset:
  """The data set `name` (NAMES): x float32 [N, 28, 28, 1] in [0, 1],
  y int32 [N]; the official 60k/10k train/test split."""
  if name not in NAMES:
    raise errors.ConfigError(f"mnist.load reads {NAMES}, not {name!r}.")
  if source == "files":
    return idx.load_idx_dataset(name, data_dir,
                                verify_checksums=verify_checksums)
  if source == "synthetic":
    return idx.load_synthetic_idx_dataset(name)
  if source == "tfds":
    return tfds_source.load_tfds_dataset(name, data_dir)
  if source == "embedded":
    raise errors.ConfigError(
        f"There is no embedded copy of {name}; use data.source 'auto', "
        "'files' or 'tfds'.")
  try:
    return idx.load_idx_dataset(name, data_dir,
                                verify_checksums=verify_checksums)
  except FileNotFoundError as files_error:
    try:
      return tfds_source.load_tfds_dataset(name, data_dir)
    except FileNotFoundError as tfds_error:
      raise errors.DataNotFoundError(
          f"Could not load {name} (data.source='auto'): "
          f"1) raw files: {files_error} 2) tfds: {tfds_error}") from tfds_error
