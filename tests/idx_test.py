"""Tests for ssvae.data.idx on tiny synthetic files in the official format."""

import gzip
import struct

import ml_collections
import numpy as np
import pytest

from ssvae.data import idx
from ssvae.data import registry

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"


def _images(n, seed=0):
  return np.random.default_rng(seed).integers(0, 256, (n, 28, 28),
                                              dtype=np.uint8)


def _write_all(directory, num_train=5, num_test=3, compressed=True):
  suffix = ".gz" if compressed else ""
  train_images, test_images = _images(num_train, 0), _images(num_test, 1)
  train_labels = np.arange(num_train, dtype=np.uint8) % 10
  test_labels = np.array([9, 0, 3][:num_test], dtype=np.uint8)
  idx.write_idx(directory / (TRAIN_IMAGES + suffix), train_images)
  idx.write_idx(directory / (TRAIN_LABELS + suffix), train_labels)
  idx.write_idx(directory / (TEST_IMAGES + suffix), test_images)
  idx.write_idx(directory / (TEST_LABELS + suffix), test_labels)
  return train_images, train_labels, test_images, test_labels


def test_reads_hand_built_gzip_images(tmp_path):
  pixels = bytes(range(2 * 3 * 4))
  path = tmp_path / "images.gz"
  with gzip.open(path, "wb") as f:
    f.write(struct.pack(">iiii", 2051, 2, 3, 4) + pixels)
  images = idx.read_idx_images(path)
  assert images.dtype == np.uint8 and images.shape == (2, 3, 4)
  assert images[1, 0, 0] == 12 and images[1, 2, 3] == 23


def test_reads_hand_built_uncompressed_labels(tmp_path):
  path = tmp_path / "labels"
  path.write_bytes(struct.pack(">ii", 2049, 3) + bytes([7, 0, 9]))
  np.testing.assert_array_equal(idx.read_idx_labels(path), [7, 0, 9])


def test_wrong_magic_names_file(tmp_path):
  path = tmp_path / "labels"
  path.write_bytes(struct.pack(">ii", 2051, 1) + bytes([1]))
  with pytest.raises(ValueError, match=r"labels.*magic number 2051.*2049"):
    idx.read_idx_labels(path)


def test_truncated_payload_names_file(tmp_path):
  path = tmp_path / "images.gz"
  with gzip.open(path, "wb") as f:
    f.write(struct.pack(">iiii", 2051, 2, 28, 28) + bytes(100))
  with pytest.raises(ValueError, match=r"images\.gz is truncated.*1584"):
    idx.read_idx_images(path)


def test_extra_bytes_rejected(tmp_path):
  path = tmp_path / "labels"
  path.write_bytes(struct.pack(">ii", 2049, 2) + bytes(3))
  with pytest.raises(ValueError, match="too long"):
    idx.read_idx_labels(path)


def test_short_header_rejected(tmp_path):
  path = tmp_path / "images"
  path.write_bytes(struct.pack(">i", 2051))
  with pytest.raises(ValueError, match=r"images is truncated.*16-byte header"):
    idx.read_idx_images(path)


def test_truncated_gzip_stream_names_file(tmp_path):
  path = tmp_path / "labels.gz"
  with gzip.open(path, "wb") as f:
    f.write(struct.pack(">ii", 2049, 500) + bytes(500))
  path.write_bytes(path.read_bytes()[:-12])
  with pytest.raises(ValueError, match=r"labels\.gz"):
    idx.read_idx_labels(path)


@pytest.mark.parametrize("compressed", [True, False])
def test_load_idx_dataset(tmp_path, compressed):
  train_images, train_labels, test_images, test_labels = _write_all(
      tmp_path, compressed=compressed)
  data = idx.load_idx_dataset("fashion_mnist", str(tmp_path))
  assert data.train.x.shape == (5, 28, 28, 1)
  assert data.train.x.dtype == np.float32 and data.train.y.dtype == np.int32
  np.testing.assert_allclose(data.train.x[..., 0], train_images / 255.0,
                             rtol=1e-6)
  np.testing.assert_allclose(data.test.x[..., 0], test_images / 255.0,
                             rtol=1e-6)
  np.testing.assert_array_equal(data.train.y, train_labels)
  np.testing.assert_array_equal(data.test.y, test_labels)
  assert data.num_classes == 10 and data.likelihood == "bernoulli"
  assert data.class_names[0] == "T-shirt/top"
  assert data.class_names[9] == "Ankle boot"
  assert data.input_shape == (28, 28, 1)


def test_mnist_class_names(tmp_path):
  _write_all(tmp_path)
  data = idx.load_idx_dataset("mnist", str(tmp_path))
  assert data.class_names == tuple("0123456789")


def test_count_mismatch_names_both_files(tmp_path):
  _write_all(tmp_path)
  idx.write_idx(tmp_path / (TRAIN_LABELS + ".gz"), np.zeros(4, np.uint8))
  with pytest.raises(ValueError, match=r"5 images.*4 labels"):
    idx.load_idx_dataset("mnist", str(tmp_path))


def test_wrong_image_size_rejected(tmp_path):
  _write_all(tmp_path)
  idx.write_idx(tmp_path / (TEST_IMAGES + ".gz"), np.zeros((3, 8, 8)))
  with pytest.raises(ValueError, match=r"t10k-images.*\(8, 8\)"):
    idx.load_idx_dataset("mnist", str(tmp_path))


def test_missing_file_lists_directory_and_file(tmp_path):
  _write_all(tmp_path)
  (tmp_path / (TEST_LABELS + ".gz")).unlink()
  with pytest.raises(FileNotFoundError) as info:
    idx.load_idx_dataset("mnist", str(tmp_path))
  message = str(info.value)
  assert str(tmp_path) in message and TEST_LABELS in message
  assert TRAIN_IMAGES + "[" not in message  # Only the missing one is listed.


def test_known_locations_searched_in_order(tmp_path, monkeypatch):
  empty, full = tmp_path / "empty", tmp_path / "full"
  empty.mkdir()
  full.mkdir()
  _write_all(full, num_train=2)
  monkeypatch.setitem(idx.KNOWN_LOCATIONS, "mnist",
                      (str(tmp_path / "absent"), str(empty), str(full)))
  assert len(idx.load_idx_dataset("mnist").train) == 2
  monkeypatch.setitem(idx.KNOWN_LOCATIONS, "mnist",
                      (str(tmp_path / "absent"), str(empty)))
  with pytest.raises(FileNotFoundError) as info:
    idx.load_idx_dataset("mnist", "")
  message = str(info.value)
  assert "absent: does not exist" in message
  assert str(empty) in message and "Download" in message


def test_ssvae_data_dir_is_searched_first(tmp_path, monkeypatch):
  (tmp_path / "mnist").mkdir()
  _write_all(tmp_path / "mnist", num_train=3)
  monkeypatch.setitem(idx.KNOWN_LOCATIONS, "mnist",
                      (str(tmp_path / "absent"),))
  monkeypatch.setenv("SSVAE_DATA_DIR", str(tmp_path))
  assert idx.candidate_dirs("mnist", "")[0] == tmp_path / "mnist"
  assert len(idx.load_idx_dataset("mnist").train) == 3
  # An explicit data_dir wins; the variable only adds a known location.
  assert idx.candidate_dirs("mnist", str(tmp_path / "x")) == [tmp_path / "x"]
  monkeypatch.setenv("SSVAE_DATA_DIR", str(tmp_path / "nowhere"))
  with pytest.raises(FileNotFoundError, match=r"nowhere/mnist: does not "
                     r"exist.*SSVAE_DATA_DIR"):
    idx.load_idx_dataset("mnist")


def test_default_known_locations():
  mnist_dirs = idx.candidate_dirs("mnist", None)
  assert mnist_dirs[0].parts[-3:] == ("shared", "data", "mnist")
  assert str(mnist_dirs[1]).endswith(".cache/ssvae/mnist")
  fashion_dirs = idx.candidate_dirs("fashion_mnist", "")
  assert fashion_dirs[0].parts[-3:] == ("shared", "data", "fashion_mnist")
  assert str(fashion_dirs[1]) == "/usr/share/datasets/fashion-mnist"


def test_unknown_name_rejected(tmp_path):
  with pytest.raises(ValueError, match="cifar"):
    idx.load_idx_dataset("cifar", str(tmp_path))


def _official_size_test_split(directory):
  """Small train files, and test files of the official size (10000 points)
  that are not MNIST's: the user's own IDX data."""
  _write_all(directory)
  idx.write_idx(directory / (TEST_IMAGES + ".gz"),
                np.zeros((10000, 28, 28), np.uint8))
  idx.write_idx(directory / (TEST_LABELS + ".gz"),
                np.arange(10000, dtype=np.uint8) % 10)


def test_official_size_file_that_is_not_official_is_refused(tmp_path):
  _official_size_test_split(tmp_path)
  with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte\.gz has the "
                     r"size of an official .*verify_checksums=False"):
    idx.load_idx_dataset("mnist", str(tmp_path))


def test_checksums_off_reads_own_official_size_files(tmp_path):
  _official_size_test_split(tmp_path)
  config = ml_collections.ConfigDict(dict(
      name="mnist", source="files", data_dir=str(tmp_path),
      verify_checksums=False))
  data = registry.load_dataset(config)
  assert data.test.x.shape == (10000, 28, 28, 1)
  np.testing.assert_array_equal(data.test.y[:12], np.arange(12) % 10)


def test_small_files_are_never_checksummed(tmp_path):
  # Files of no official size cannot be official: read whatever their MD5.
  _write_all(tmp_path)
  assert idx.load_idx_dataset("mnist", str(tmp_path)).train.x.shape[0] == 5
