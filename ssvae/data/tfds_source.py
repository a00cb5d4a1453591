"""Data sets prepared by tensorflow-datasets, read without TensorFlow.

`tfds.data_source` gives random access to data prepared in the array_record
format and decodes it with numpy only. Preparing (downloading and converting)
a data set needs TensorFlow and internet access, so this module never
prepares: it only reads what is already there.
"""

import contextlib
from typing import Optional, Sequence

from absl import logging
import numpy as np

from ssvae import errors
from ssvae.data import dataset as dataset_lib
from ssvae.data import idx

TFDS_NAMES = ("mnist", "fashion_mnist")


@contextlib.contextmanager
def _quiet_tfds_search():
  """Hides tfds's warnings while it looks for prepared data: it warns once
  per version folder without dataset_info.json ("Variant folder ... has no
  dataset_info.json"); the error raised when nothing is found says it once."""
  verbosity = logging.get_verbosity()
  logging.set_verbosity(logging.ERROR)
  try:
    yield
  finally:
    logging.set_verbosity(verbosity)


def _open_data_source(tfds_name: str, split: str, data_dir: Optional[str]):
  """tfds.data_source without download; clear errors when data is missing."""
  try:
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  except ImportError as err:
    raise errors.DataNotFoundError(
        f"Cannot load {tfds_name!r} through tfds: tensorflow-datasets is not "
        f"installed ({err}). Use data.source='files' instead.") from err
  try:
    with _quiet_tfds_search():
      return tfds.data_source(
          tfds_name, split=split, data_dir=data_dir or None, download=False)
  except tfds.core.registered.DatasetNotFoundError as err:
    raise errors.DataError(
        f"tfds has no data set named {tfds_name!r}.") from err
  except Exception as err:  # pylint: disable=broad-except
    # tfds reports missing data in several ways (NotImplementedError about
    # the file format, FileNotFoundError, AssertionError, ...); all mean the
    # same thing to the user.
    where = data_dir or (
        "the default tfds data_dir (TFDS_DATA_DIR or ~/tensorflow_datasets)")
    first_line = str(err).strip().split("\n", 1)[0]
    raise errors.DataNotFoundError(
        f"tfds found no prepared {tfds_name!r} split {split!r} in the "
        f"array_record format in {where} (tfds said: {type(err).__name__}: "
        f"{first_line}). Preparing it needs TensorFlow and internet access "
        f"(e.g. `tfds build {tfds_name} --file_format=array_record`); "
        "without them use "
        "data.source='files' with the official raw files.") from err


def _stack_labels(columns: list[np.ndarray]) -> np.ndarray:
  labels = columns[0] if len(columns) == 1 else np.stack(columns, axis=1)
  if np.issubdtype(labels.dtype, np.integer):
    labels = labels.astype(np.int32)
  return labels


def load_tfds_arrays(
    tfds_name: str,
    split: str,
    data_dir: Optional[str] = None,
    image_key: str = "image",
    label_keys: str | Sequence[str] = ("label",),
) -> tuple[np.ndarray, np.ndarray]:
  """Reads one split of a prepared tfds data set into numpy arrays.

  Args:
    tfds_name: registered tfds name, e.g. "mnist" or "smallnorb".
    split: tfds split, e.g. "train", "test".
    data_dir: tfds data_dir; None or "" uses the tfds default.
    image_key: feature holding the image.
    label_keys: one feature name, or several stacked as columns.

  Returns:
    images: [N, *image_shape] with the feature's dtype (uint8 for images).
    labels: [N] for one label key, else [N, len(label_keys)]; integer labels
      are cast to int32.

  Raises:
    FileNotFoundError: the data is not prepared (or tfds is missing).
    ValueError: unknown tfds name or feature key, or an empty split.
  """
  if isinstance(label_keys, str):
    label_keys = (label_keys,)
  label_keys = tuple(label_keys)
  source = _open_data_source(tfds_name, split, data_dir)
  num_examples = len(source)
  if num_examples == 0:
    raise errors.DataError(f"tfds split {tfds_name}/{split} is empty.")
  first = source[0]
  missing = [key for key in (image_key,) + label_keys if key not in first]
  if missing:
    raise errors.DataError(
        f"tfds data set {tfds_name!r} has no feature(s) {missing}; it has "
        f"{sorted(first)}.")
  first_image = np.asarray(first[image_key])
  images = np.empty((num_examples,) + first_image.shape, first_image.dtype)
  label_columns = [
      np.empty(num_examples, np.asarray(first[key]).dtype)
      for key in label_keys]
  # Item access, not __getitems__: the latter is broken under
  # tfds.testing.mock_data in tfds 4.9.10, and decoding dominates anyway.
  for i in range(num_examples):
    example = first if i == 0 else source[i]
    images[i] = example[image_key]
    for column, key in zip(label_columns, label_keys):
      column[i] = example[key]
  return images, _stack_labels(label_columns)


def _load_split(tfds_name: str, split: str,
                data_dir: Optional[str]) -> dataset_lib.Split:
  images, labels = load_tfds_arrays(tfds_name, split, data_dir)
  if images.shape[1:] != idx.IMAGE_SHAPE + (1,):
    raise errors.DataError(
        f"tfds {tfds_name}/{split} images have shape {images.shape[1:]}, "
        f"expected {idx.IMAGE_SHAPE + (1,)}.")
  return dataset_lib.Split(x=idx.images_to_unit_float(images), y=labels)


def load_tfds_dataset(name: str,
                      data_dir: Optional[str] = None) -> dataset_lib.Dataset:
  """mnist or fashion_mnist from prepared tfds data, as the IDX loader gives.

  x float32 [N, 28, 28, 1] in [0, 1]; y int32 [N].
  """
  if name not in TFDS_NAMES:
    raise ValueError(
        f"load_tfds_dataset supports {list(TFDS_NAMES)}, got {name!r}.")
  return dataset_lib.Dataset(
      name=name,
      train=_load_split(name, "train", data_dir),
      test=_load_split(name, "test", data_dir),
      num_classes=idx.NUM_CLASSES,
      likelihood="bernoulli",
      class_names=idx.CLASS_NAMES[name])
