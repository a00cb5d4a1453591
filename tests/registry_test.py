"""Tests for ssvae.data.registry.load_dataset and the package exports."""

import sys
import types

import ml_collections
import numpy as np
import pytest
import tensorflow_datasets as tfds

import ssvae.data
from ssvae.data import dataset as dataset_lib
from ssvae.data import idx
from ssvae.data import registry


def _config(name, source="auto", data_dir=""):
  return ml_collections.ConfigDict(
      {"name": name, "source": source, "data_dir": data_dir})


def _write_mnist(directory, num_train=4, num_test=2):
  for stem, count in (("train", num_train), ("t10k", num_test)):
    idx.write_idx(directory / f"{stem}-images-idx3-ubyte.gz",
                  np.full((count, 28, 28), 255))
    idx.write_idx(directory / f"{stem}-labels-idx1-ubyte.gz",
                  np.arange(count) % 10)


def test_package_exports():
  for name in ("Dataset", "Split", "load_dataset", "select_labeled_indices",
               "hold_out_class", "Pools", "make_pools", "sampling_mode",
               "sample_batch"):
    assert hasattr(ssvae.data, name), name


@pytest.mark.parametrize("source", ["auto", "embedded"])
def test_digits(source):
  data = ssvae.data.load_dataset(_config("digits", source))
  assert data.name == "digits" and data.input_shape == (8, 8, 1)


def test_digits_rejects_other_sources():
  with pytest.raises(ValueError, match="embedded"):
    registry.load_dataset(_config("digits", "tfds"))


@pytest.mark.parametrize("source", ["auto", "files"])
def test_mnist_from_files(tmp_path, source):
  _write_mnist(tmp_path)
  data = registry.load_dataset(_config("mnist", source, str(tmp_path)))
  assert len(data.train) == 4 and len(data.test) == 2
  assert data.train.x.max() == 1.0


def test_auto_falls_back_to_tfds_when_files_missing(tmp_path):
  with tfds.testing.mock_data(num_examples=3):
    data = registry.load_dataset(
        _config("fashion_mnist", "auto", str(tmp_path)))
  assert len(data.train) == 3 and data.input_shape == (28, 28, 1)
  assert data.class_names[-1] == "Ankle boot"


def test_tfds_source_skips_files(tmp_path):
  _write_mnist(tmp_path, num_train=4)
  with tfds.testing.mock_data(num_examples=3):
    data = registry.load_dataset(_config("mnist", "tfds", str(tmp_path)))
  assert len(data.train) == 3  # The mock's examples, not the 4 files.


def test_auto_error_lists_both_attempts(tmp_path):
  with pytest.raises(FileNotFoundError) as info:
    registry.load_dataset(_config("mnist", "auto", str(tmp_path)))
  message = str(info.value)
  assert "1) raw files" in message and "IDX files of mnist" in message
  assert "2) tfds" in message and "TensorFlow" in message


def test_mnist_has_no_embedded_copy():
  with pytest.raises(ValueError, match="no embedded copy of mnist"):
    registry.load_dataset(_config("mnist", "embedded"))


def test_unknown_name_lists_valid_names():
  with pytest.raises(ValueError) as info:
    registry.load_dataset(_config("cifar10"))
  for name in ("digits", "mnist", "fashion_mnist", "dsprites", "smallnorb",
               "uci_har"):
    assert name in str(info.value)


def test_unknown_source():
  with pytest.raises(ValueError, match="data.source 'disk'"):
    registry.load_dataset(_config("digits", "disk"))


def test_other_loaders_imported_lazily(monkeypatch):
  calls = []
  toy = dataset_lib.Dataset(
      name="uci_har",
      train=dataset_lib.Split(np.zeros((2, 3, 1)), np.zeros(2, np.int32)),
      test=dataset_lib.Split(np.zeros((1, 3, 1)), np.zeros(1, np.int32)),
      num_classes=6, likelihood="gaussian")
  fake = types.ModuleType("ssvae.data.uci_har")
  fake.load = lambda source, data_dir: calls.append((source, data_dir)) or toy
  monkeypatch.setitem(sys.modules, "ssvae.data.uci_har", fake)
  assert registry.load_dataset(_config("uci_har", "files", "/d")) is toy
  assert calls == [("files", "/d")]


def test_missing_loader_module_is_a_clear_error(monkeypatch):
  monkeypatch.setattr(registry, "MODULE_NAMES", ("no_such_loader",))
  with pytest.raises(ValueError, match="ssvae.data.no_such_loader"):
    registry.load_dataset(_config("no_such_loader"))
