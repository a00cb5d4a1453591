"""Tests for ssvae.data.tfds_source.

Most use tfds.testing.mock_data, which replaces the prepared data with random
examples of the declared features (and ignores data_dir), so shapes, dtypes
and scaling are checked, not values. The TFRecord tests read real caches: a
tiny MNIST prepared here as array_record (no TensorFlow or internet needed),
and the same serialized examples framed as a TFRecord cache.
"""

import json
import re
import shutil

from absl import logging
from array_record.python import array_record_module
import numpy as np
import PIL.Image
import pytest
from tensorboardX import record_writer
import tensorflow_datasets as tfds
from tensorflow_datasets.image_classification import mnist as tfds_mnist

from ssvae import errors
from ssvae.data import tfds_source
from ssvae.data import tfrecord


def test_load_tfds_arrays_single_label():
  with tfds.testing.mock_data(num_examples=6):
    images, labels = tfds_source.load_tfds_arrays("mnist", "train", None)
  assert images.shape == (6, 28, 28, 1) and images.dtype == np.uint8
  assert labels.shape == (6,) and labels.dtype == np.int32
  assert labels.min() >= 0 and labels.max() < 10


def test_load_tfds_arrays_stacks_several_label_keys():
  with tfds.testing.mock_data(num_examples=4):
    images, labels = tfds_source.load_tfds_arrays(
        "mnist", "test", "", image_key="image", label_keys=["label", "label"])
  assert images.shape[0] == 4
  assert labels.shape == (4, 2) and labels.dtype == np.int32
  np.testing.assert_array_equal(labels[:, 0], labels[:, 1])


def test_unknown_feature_key_lists_features():
  with tfds.testing.mock_data(num_examples=2):
    with pytest.raises(ValueError, match=r"no feature\(s\) \['digit'\]"):
      tfds_source.load_tfds_arrays("mnist", "train", None, label_keys="digit")


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_load_tfds_dataset(name):
  with tfds.testing.mock_data(num_examples=5):
    data = tfds_source.load_tfds_dataset(name, "/ignored/by/mock")
  for split in (data.train, data.test):
    assert split.x.shape == (5, 28, 28, 1) and split.x.dtype == np.float32
    assert split.y.shape == (5,) and split.y.dtype == np.int32
    assert 0.0 <= split.x.min() and split.x.max() <= 1.0
  assert data.train.x.max() > 0.5  # Divided by 255 once, not twice.
  assert data.name == name and data.num_classes == 10
  assert data.likelihood == "bernoulli" and len(data.class_names) == 10


def test_missing_prepared_data_gives_clear_error(tmp_path):
  with pytest.raises(FileNotFoundError) as info:
    tfds_source.load_tfds_dataset("mnist", str(tmp_path))
  message = str(info.value)
  assert str(tmp_path) in message
  assert "TensorFlow and internet" in message
  assert "source='files'" in message
  assert "TFRecord or array_record" in message
  assert not any(tmp_path.iterdir())  # Nothing downloaded or prepared.


def test_unknown_names_rejected():
  with pytest.raises(ValueError, match="cifar10"):
    tfds_source.load_tfds_dataset("cifar10", None)
  with pytest.raises(ValueError, match="no data set named 'no_such_set_x'"):
    tfds_source.load_tfds_arrays("no_such_set_x", "train", None)


def test_missing_data_does_not_log_tfds_folder_warnings(tmp_path, caplog):
  (tmp_path / "mnist" / "3.0.1").mkdir(parents=True)  # a folder, no info
  verbosity = logging.get_verbosity()
  with caplog.at_level("WARNING"):
    with pytest.raises(FileNotFoundError):
      tfds_source.load_tfds_dataset("mnist", str(tmp_path))
  assert not [r for r in caplog.records if "dataset_info.json" in
              r.getMessage()]
  assert logging.get_verbosity() == verbosity  # restored


SIZES = {"train": 7, "test": 3}
TRAIN_SHARDS = (4, 3)  # The TFRecord copy cuts train into two shards.


def _tiny_pixels_and_labels(split):
  rng = np.random.default_rng(SIZES[split])
  pixels = rng.integers(0, 256, (SIZES[split], 28, 28), dtype=np.uint8)
  return pixels, (np.arange(SIZES[split]) * 3 + len(split)) % 10


class _TinyMnist(tfds_mnist.MNIST, skip_registration=True):
  """tfds's MNIST builder (same name, version and features) on a few random
  images: Image features accept PIL images (encoded as PNG by PIL) and
  array_record is written without TensorFlow, so no TF and no download."""
  name = "mnist"

  def _split_generators(self, dl_manager):
    del dl_manager
    return {split: self._tiny_examples(split) for split in SIZES}

  def _tiny_examples(self, split):
    pixels, labels = _tiny_pixels_and_labels(split)
    for i, (image, label) in enumerate(zip(pixels, labels)):
      yield i, {"image": PIL.Image.fromarray(image), "label": label}


def _version_dir(data_dir):
  return data_dir / "mnist" / "3.0.1"


def _write_tfrecord_copy(array_record_dir, data_dir):
  """Frames the array_record cache's serialized examples as TFRecord shards
  (tensorboardX's writer, an implementation independent of ours), named and
  described as tfds names them for file_format=tfrecord."""
  source, target = _version_dir(array_record_dir), _version_dir(data_dir)
  target.mkdir(parents=True)
  shutil.copy(source / "features.json", target / "features.json")
  info = json.loads((source / "dataset_info.json").read_text())
  info["fileFormat"] = "tfrecord"
  for split_info in info["splits"]:
    split = split_info["name"]
    assert split_info["shardLengths"] == [str(SIZES[split])]  # One shard.
    reader = array_record_module.ArrayRecordReader(
        str(source / f"mnist-{split}.array_record-00000-of-00001"))
    records = reader.read_all()
    reader.close()
    lengths = TRAIN_SHARDS if split == "train" else (SIZES[split],)
    split_info["shardLengths"] = [str(length) for length in lengths]
    start = 0
    for shard, length in enumerate(lengths):
      writer = record_writer.RecordWriter(str(
          target / f"mnist-{split}.tfrecord-{shard:05d}-of-{len(lengths):05d}"))
      for record in records[start:start + length]:
        writer.write(record)
      writer.close()
      start += length
  (target / "dataset_info.json").write_text(json.dumps(info))


@pytest.fixture(scope="module")
def caches(tmp_path_factory):
  """(array_record data_dir, TFRecord data_dir) holding the same examples."""
  array_record_dir = tmp_path_factory.mktemp("array_record")
  _TinyMnist(data_dir=array_record_dir, file_format="array_record"
             ).download_and_prepare()
  tfrecord_dir = tmp_path_factory.mktemp("tfrecord")
  _write_tfrecord_copy(array_record_dir, tfrecord_dir)
  return array_record_dir, tfrecord_dir


@pytest.fixture
def tfrecord_copy(caches, tmp_path):
  """A copy of the TFRecord cache that a test may damage."""
  shutil.copytree(caches[1], tmp_path, dirs_exist_ok=True)
  return tmp_path


def test_tfrecord_cache_is_one_tfds_data_source_refuses(caches):
  builder = tfds.builder("mnist", data_dir=caches[1])
  assert builder.is_prepared()
  assert builder.info.file_format == tfds.core.file_adapters.FileFormat.TFRECORD
  with pytest.raises(NotImplementedError, match="TFRECORD"):
    tfds.data_source("mnist", split="train", data_dir=caches[1],
                     download=False)


def _examples(images, labels):
  """The examples as a sorted list: tfds shuffles them when it writes."""
  return sorted((image.tobytes(), int(label))
                for image, label in zip(images, labels))


def test_array_record_cache_holds_the_generated_examples(caches):
  for split in SIZES:
    images, labels = tfds_source.load_tfds_arrays("mnist", split, caches[0])
    pixels, expected_labels = _tiny_pixels_and_labels(split)
    assert images.shape == (SIZES[split], 28, 28, 1)
    assert _examples(images, labels) == _examples(pixels, expected_labels)


@pytest.mark.parametrize("split", ["train", "test", "train[2:6]", "train[-2:]"])
def test_tfrecord_cache_reads_as_array_record(caches, split):
  want_images, want_labels = tfds_source.load_tfds_arrays(
      "mnist", split, str(caches[0]))
  images, labels = tfds_source.load_tfds_arrays("mnist", split, str(caches[1]))
  assert images.dtype == want_images.dtype and labels.dtype == want_labels.dtype
  np.testing.assert_array_equal(images, want_images)
  np.testing.assert_array_equal(labels, want_labels)


def test_load_tfds_dataset_reads_tfrecord_cache(caches):
  data = tfds_source.load_tfds_dataset("mnist", str(caches[1]))
  for split, arrays in (("train", data.train), ("test", data.test)):
    assert arrays.x.dtype == np.float32 and arrays.y.dtype == np.int32
    assert arrays.x.shape == (SIZES[split], 28, 28, 1)
    images = np.round(arrays.x * 255).astype(np.uint8)
    assert _examples(images, arrays.y) == _examples(
        *_tiny_pixels_and_labels(split))


def _train_shard(data_dir, shard):
  return (_version_dir(data_dir) /
          f"mnist-train.tfrecord-{shard:05d}-of-{len(TRAIN_SHARDS):05d}")


def _load_error(data_dir):
  with pytest.raises(errors.DataError) as info:
    tfds_source.load_tfds_arrays("mnist", "train", str(data_dir))
  assert not isinstance(info.value, FileNotFoundError)  # Found, but broken.
  return str(info.value)


def test_corrupt_tfrecord_shard_names_file(tfrecord_copy):
  shard = _train_shard(tfrecord_copy, 1)
  data = bytearray(shard.read_bytes())
  data[len(data) // 2] ^= 0x10
  shard.write_bytes(bytes(data))
  message = _load_error(tfrecord_copy)
  assert str(shard) in message and "corrupt" in message
  assert re.search(r"record \d \(at byte \d+\)", message)


def test_truncated_tfrecord_shard_names_file(tfrecord_copy):
  shard = _train_shard(tfrecord_copy, 0)
  shard.write_bytes(shard.read_bytes()[:-10])
  message = _load_error(tfrecord_copy)
  assert str(shard) in message and "truncated" in message
  assert "record 3" in message  # The last of 4.


def test_tfrecord_shard_missing_whole_records(tfrecord_copy):
  shard = _train_shard(tfrecord_copy, 1)
  records = list(tfrecord.read_records(shard))
  shard.unlink()
  writer = record_writer.RecordWriter(str(shard))
  for record in records[:-1]:
    writer.write(record)
  writer.close()
  message = _load_error(tfrecord_copy)
  assert f"{shard} holds 2 records" in message and "says 3" in message


def test_tfrecord_cache_unknown_split(caches):
  with pytest.raises(FileNotFoundError, match=r"no split 'validation'.*"
                     r"\['test', 'train'\]"):
    tfds_source.load_tfds_arrays("mnist", "validation", str(caches[1]))
