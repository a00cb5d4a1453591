"""Tests for the dSprites loader on tiny synthetic .npz files."""

import itertools

import numpy as np
import pytest
import tensorflow_datasets as tfds

from ssvae.data import dsprites
from ssvae.metrics import disentanglement

# A tiny grid: 3 shapes x 2 scales x 2 orientations x 2 x 2 positions = 48.
SIZES = (3, 2, 2, 2, 2)
# Class numbers as a subsampled file keeps them (not 0..n-1).
CLASS_VALUES = ((0, 1, 2), (1, 4), (0, 20), (3, 9), (0, 31))


def _arrays(with_color: bool, image_size: int = 6):
  rows = np.array(list(itertools.product(*CLASS_VALUES)), np.int64)
  if with_color:
    rows = np.concatenate([np.zeros_like(rows[:, :1]), rows], axis=1)
  # Each image has a 1 at a pixel that depends on its row number.
  images = np.zeros((len(rows), image_size, image_size), np.uint8)
  images.reshape(len(rows), -1)[np.arange(len(rows)),
                                np.arange(len(rows)) % image_size**2] = 1
  return images, rows


def _write(path, with_color=False, **extra):
  images, classes = _arrays(with_color)
  arrays = dict(imgs=images, latents_classes=classes,
                latents_values=classes.astype(np.float64))
  arrays.update(extra)
  np.savez(path, **arrays)
  return images, classes


def test_loads_five_column_file_and_reindexes_classes(tmp_path):
  images, classes = _write(tmp_path / "small.npz")
  ds = dsprites.load("files", str(tmp_path))
  assert ds.name == "dsprites"
  assert ds.train.x.shape == (48, 6, 6, 1) and ds.train.x.dtype == np.float32
  np.testing.assert_array_equal(ds.train.x[..., 0], images)
  assert ds.train.y.dtype == np.int32 and ds.train.y.shape == (48, 5)
  for k, values in enumerate(CLASS_VALUES):
    np.testing.assert_array_equal(
        ds.train.y[:, k], np.searchsorted(values, classes[:, k]))
  assert ds.factor_sizes == SIZES
  assert ds.factor_names == ("shape", "scale", "orientation", "pos_x",
                             "pos_y")
  assert ds.num_classes == 3
  assert ds.class_names == ("square", "ellipse", "heart")
  assert ds.likelihood == "bernoulli"


def test_official_name_drops_constant_color_column(tmp_path):
  _write(tmp_path / dsprites.OFFICIAL_FILE, with_color=True)
  _write(tmp_path / "other.npz")  # The official name wins over others.
  ds = dsprites.load("files", str(tmp_path))
  assert ds.train.y.shape == (48, 5) and ds.factor_sizes == SIZES


def test_data_dir_may_name_the_file(tmp_path):
  _write(tmp_path / "a.npz")
  _write(tmp_path / "b.npz")
  with pytest.raises(ValueError, match="Several .npz"):
    dsprites.load("files", str(tmp_path))
  assert len(dsprites.load("files", str(tmp_path / "b.npz")).train) == 48


def test_test_split_is_a_fixed_seeded_subset(tmp_path):
  _write(tmp_path / "small.npz")
  first = dsprites.load("files", str(tmp_path))
  second = dsprites.load("files", str(tmp_path))
  assert len(first.train) == 48 and len(first.test) == 5  # round(0.1 * 48)
  np.testing.assert_array_equal(first.test.y, second.test.y)
  # Test rows are train rows (train is the whole grid), not all the first 5.
  rows = [np.flatnonzero((first.train.y == y).all(1))[0] for y in first.test.y]
  np.testing.assert_array_equal(first.test.x, first.train.x[rows])
  assert rows == sorted(rows) and rows != list(range(5))


def test_loaded_grid_feeds_the_factor_sampler(tmp_path):
  _write(tmp_path / "small.npz")
  ds = dsprites.load("files", str(tmp_path))
  sampler = disentanglement.FactorSampler(ds.factor_sizes, ds.train.x,
                                          ds.train.y)
  np.testing.assert_array_equal(
      sampler.observations_for(ds.train.y[[7, 3]]), ds.train.x[[7, 3]])


def test_never_unpickles_metadata(tmp_path):
  # An object array can only be read by unpickling; loading must not try.
  _write(tmp_path / "small.npz",
         metadata=np.array([{"evil": True}], dtype=object))
  assert len(dsprites.load("files", str(tmp_path)).train) == 48


def test_known_locations_are_searched(tmp_path, monkeypatch):
  _write(tmp_path / "x.npz")
  monkeypatch.setattr(dsprites, "KNOWN_LOCATIONS",
                      (str(tmp_path / "missing"), str(tmp_path)))
  assert len(dsprites.load("files", "").train) == 48


def test_missing_file_errors_name_the_place(tmp_path, monkeypatch):
  with pytest.raises(FileNotFoundError, match="nowhere"):
    dsprites.load("files", str(tmp_path / "nowhere"))
  with pytest.raises(FileNotFoundError, match="No dSprites .npz in data_dir"):
    dsprites.load("files", str(tmp_path))
  monkeypatch.setattr(dsprites, "KNOWN_LOCATIONS", (str(tmp_path),))
  with pytest.raises(FileNotFoundError, match=str(tmp_path)):
    dsprites.load("files", "")


def test_corrupt_file_error_names_the_file(tmp_path):
  path = tmp_path / "broken.npz"
  path.write_bytes(b"not a zip archive at all")
  with pytest.raises(ValueError, match="broken.npz.*not an .npz"):
    dsprites.load("files", str(path))


@pytest.mark.parametrize("arrays, message", [
    (dict(imgs=np.zeros((4, 6, 6), np.uint8)), r"\['latents_classes'\]"),
    (dict(imgs=np.full((2, 6, 6), 255, np.uint8),
          latents_classes=np.zeros((2, 5), int)), "binary"),
    (dict(imgs=np.zeros((2, 6, 6), np.float32),
          latents_classes=np.zeros((2, 5), int)), r"uint8 \[N, H, W\]"),
    (dict(imgs=np.zeros((2, 6, 6), np.uint8),
          latents_classes=np.zeros((3, 5), int)), "N=2"),
    (dict(imgs=np.zeros((2, 6, 6), np.uint8),
          latents_classes=np.zeros((2, 4), int)), "4 columns"),
    (dict(imgs=np.zeros((2, 6, 6), np.uint8),
          latents_classes=np.arange(12).reshape(2, 6)), "color"),
])
def test_bad_contents_are_rejected(tmp_path, arrays, message):
  np.savez(tmp_path / "bad.npz", **arrays)
  with pytest.raises(ValueError, match=message):
    dsprites.load("files", str(tmp_path))


def test_unknown_source_is_rejected():
  with pytest.raises(ValueError, match="'auto', 'files' or 'tfds'"):
    dsprites.load("embedded", "")


def _tfds_examples(self, split, **kwargs):
  del self, kwargs
  assert split == "train"
  images, classes = _arrays(with_color=False, image_size=64)
  return [
      dict(zip(dsprites.TFDS_LABELS, row), image=image[..., np.newaxis])
      for image, row in zip(images, classes)]


def test_tfds_source_maps_label_features_to_factor_columns():
  with tfds.testing.mock_data(as_data_source_fn=_tfds_examples):
    ds = dsprites.load("tfds", "")
  images, classes = _arrays(with_color=False, image_size=64)
  np.testing.assert_array_equal(ds.train.x[..., 0], images)
  for k, values in enumerate(CLASS_VALUES):
    np.testing.assert_array_equal(
        ds.train.y[:, k], np.searchsorted(values, classes[:, k]))
  assert ds.factor_sizes == SIZES


def test_tfds_generated_mock_data_goes_through_validation():
  # TFDS's own random examples: real ArrayRecord data source plumbing, but
  # images in 0..255, which dSprites never has.
  with tfds.testing.mock_data(num_examples=4,
                              policy=tfds.testing.MockPolicy.USE_CODE):
    with pytest.raises(ValueError, match="TFDS 'dsprites' must be binary"):
      dsprites.load("tfds", "")


def test_auto_falls_back_to_tfds_when_no_file_is_found(tmp_path, monkeypatch):
  monkeypatch.setattr(dsprites, "KNOWN_LOCATIONS", (str(tmp_path),))
  with tfds.testing.mock_data(as_data_source_fn=_tfds_examples):
    assert dsprites.load("auto", "").factor_sizes == SIZES


def test_auto_reports_files_and_tfds_when_both_fail(tmp_path, monkeypatch):
  def not_prepared(self, split, **kwargs):
    raise RuntimeError("dsprites is not prepared")

  monkeypatch.setattr(dsprites, "KNOWN_LOCATIONS", (str(tmp_path),))
  with tfds.testing.mock_data(as_data_source_fn=not_prepared):
    with pytest.raises(FileNotFoundError,
                       match="TFDS fallback failed too.*not prepared"):
      dsprites.load("auto", "")


def test_ssvae_data_dir_is_searched_first(tmp_path, monkeypatch):
  monkeypatch.setattr(dsprites, "KNOWN_LOCATIONS", (str(tmp_path / "absent"),))
  monkeypatch.setenv("SSVAE_DATA_DIR", str(tmp_path))
  assert dsprites.find_file() is None
  (tmp_path / "dsprites").mkdir()
  target = tmp_path / "dsprites" / dsprites.OFFICIAL_FILE
  target.write_bytes(b"")
  assert dsprites.find_file() == target
