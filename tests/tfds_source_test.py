"""Tests for ssvae.data.tfds_source with tfds.testing.mock_data.

mock_data replaces the prepared data with random examples of the declared
features (and ignores data_dir), so shapes, dtypes and scaling are checked,
not values.
"""

from absl import logging
import numpy as np
import pytest
import tensorflow_datasets as tfds

from ssvae.data import tfds_source


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
