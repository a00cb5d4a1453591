"""Data sets prepared by tensorflow-datasets, read without TensorFlow.

tfds writes two formats: array_record (`tfds build --file_format=
array_record`), which `tfds.data_source` reads with random access, and
TFRecord (what `tfds.load` writes by default), which `tfds.data_source`
refuses. TFRecord shards are read here with our own reader (ssvae.data.
tfrecord, every checksum checked); both paths decode each record with tfds's
numpy-only parser (`features.deserialize_example_np`), so they give the same
arrays. Preparing (downloading and converting) a data set needs TensorFlow and
internet access, so this module never prepares: it only reads what is already
there.
"""

import collections.abc
import contextlib
from typing import Any, Optional, Sequence

from absl import logging
import numpy as np

from ssvae import errors
from ssvae.data import dataset as dataset_lib
from ssvae.data import idx
from ssvae.data import tfrecord

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


def _import_tfds(tfds_name: str):
  try:
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  except ImportError as err:
    raise errors.DataNotFoundError(
        f"Cannot load {tfds_name!r} through tfds: tensorflow-datasets is not "
        f"installed ({err}). Use data.source='files' instead.") from err
  return tfds


def _not_prepared_error(tfds_name: str, split: str, data_dir: Optional[str],
                        reason: str) -> errors.DataNotFoundError:
  where = data_dir or (
      "the default tfds data_dir (TFDS_DATA_DIR or ~/tensorflow_datasets)")
  return errors.DataNotFoundError(
      f"tfds found no prepared {tfds_name!r} split {split!r} (TFRecord or "
      f"array_record) in {where} ({reason}). Preparing it needs TensorFlow "
      f"and internet access (e.g. `tfds build {tfds_name}`); without them use "
      "data.source='files' with the official raw files.")


def _open_data_source(tfds_name: str, split: str, data_dir: Optional[str],
                      unprepared_dir: Optional[str] = None):
  """tfds.data_source (array_record) without download; clear errors when
  data is missing. unprepared_dir: where tfds.builder found nothing prepared,
  a clearer reason than what tfds.data_source then says."""
  tfds = _import_tfds(tfds_name)
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
    first_line = str(err).strip().split("\n", 1)[0]
    reason = (f"no dataset_info.json in {unprepared_dir}" if unprepared_dir
              else f"tfds said: {type(err).__name__}: {first_line}")
    raise _not_prepared_error(tfds_name, split, data_dir, reason) from err


def _find_builder(tfds_name: str, data_dir: Optional[str]):
  """tfds.builder, which finds the prepared version folder and restores its
  dataset_info.json (file format, splits, shard lengths) without TensorFlow;
  None where it fails (_open_data_source then meets and reports the same)."""
  tfds = _import_tfds(tfds_name)
  try:
    with _quiet_tfds_search():
      return tfds.builder(tfds_name, data_dir=data_dir or None)
  except Exception:  # pylint: disable=broad-except
    return None


def _is_tfrecord_only(info) -> bool:
  """Whether tfds.data_source would refuse the prepared data as TFRecord."""
  # pylint: disable-next=g-import-not-at-top
  from tensorflow_datasets.core import file_adapters
  tfrecord_format = file_adapters.FileFormat.TFRECORD
  # dataset_info.json files older than the fileFormat field mean TFRecord.
  formats = info.available_file_formats() or {tfrecord_format}
  return (tfrecord_format in formats
          and not formats & file_adapters.FileFormat.with_random_access())


class _TFRecordSource(collections.abc.Sequence):
  """A split's serialized records, decoded on access as tfds.data_source
  items are (same parser, same dicts of numpy arrays)."""

  def __init__(self, records: list[bytes], features: Any):
    self._records = records
    self._features = features

  def __len__(self) -> int:
    return len(self._records)

  def __getitem__(self, index: int):
    return self._features.deserialize_example_np(self._records[index])


def _split_records(builder, split: str) -> list[bytes]:
  """The serialized records of split (e.g. "train[:80%]"), in tfds's order.

  Each shard must hold the number of records dataset_info.json gives, so a
  shard cut at a record boundary is an error, not a shorter split.
  """
  splits = builder.info.splits
  try:
    instructions = splits[split].file_instructions
  except (KeyError, ValueError) as err:
    first_line = str(err).strip().split("\n", 1)[0]
    raise errors.DataNotFoundError(
        f"tfds data set {builder.name!r} in {builder.data_dir} has no split "
        f"{split!r}; it has {sorted(splits)} (tfds said: {first_line})."
    ) from err
  records = []
  for instruction in instructions:
    shard = list(tfrecord.read_records(instruction.filename))
    if len(shard) != instruction.examples_in_shard:
      raise errors.DataError(
          f"TFRecord file {instruction.filename} holds {len(shard)} records; "
          f"its dataset_info.json says {instruction.examples_in_shard}. "
          "Prepare the data set again.")
    records.extend(shard[instruction.skip:instruction.skip + instruction.take])
  return records


def _open_source(tfds_name: str, split: str,
                 data_dir: Optional[str]) -> Sequence[Any]:
  """The split's examples, from a TFRecord or an array_record cache."""
  builder = _find_builder(tfds_name, data_dir)
  if builder is None:
    return _open_data_source(tfds_name, split, data_dir)
  with _quiet_tfds_search():
    prepared = builder.is_prepared()
  if prepared and _is_tfrecord_only(builder.info):
    return _TFRecordSource(_split_records(builder, split),
                           builder.info.features)
  # array_record, or nothing: mock_data (tests) mocks only this path.
  return _open_data_source(tfds_name, split, data_dir,
                           None if prepared else str(builder.data_dir))


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
    ValueError: unknown tfds name or feature key, an empty split, or a
      corrupt or truncated TFRecord shard (all errors.DataError).
  """
  if isinstance(label_keys, str):
    label_keys = (label_keys,)
  label_keys = tuple(label_keys)
  source = _open_source(tfds_name, split, data_dir)
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
