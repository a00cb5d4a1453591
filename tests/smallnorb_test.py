"""Tests for the Small NORB loader on tiny files in the NORB binary format."""

import gzip

import numpy as np
import pytest
import tensorflow_datasets as tfds

from ssvae.data import smallnorb

N, SIZE = 12, 4  # 12 stereo pairs of 4x4 pixels per split.


def _split_arrays(seed):
  rng = np.random.default_rng(seed)
  dat = rng.integers(0, 256, size=(N, 2, SIZE, SIZE), dtype=np.uint8)
  category = (np.arange(N) % 5).astype(np.int32)
  info = np.stack([
      np.arange(N) % 10,            # instance
      np.arange(N) % 9,             # elevation
      2 * (np.arange(N) * 5 % 18),  # azimuth 0, 2, .., 34
      np.arange(N) % 6,             # lighting
  ], axis=-1).astype(np.int32)
  return dict(dat=dat, cat=category, info=info)


def _write_split(directory, split, arrays, gz=True):
  for kind, array in arrays.items():
    name = f"{smallnorb.SPLIT_PREFIXES[split]}-{kind}.mat" + (
        ".gz" if gz else "")
    smallnorb.write_norb_matrix(directory / name, array)


def _write_all(directory, gz=True):
  arrays = {"train": _split_arrays(0), "test": _split_arrays(1)}
  for split, split_arrays in arrays.items():
    _write_split(directory, split, split_arrays, gz=gz)
  return arrays


def test_header_layout_matches_the_norb_format(tmp_path):
  # Hand-built: magic, ndim, then max(3, ndim) dims, all little-endian int32.
  path = tmp_path / "cat.mat"
  smallnorb.write_norb_matrix(path, np.array([3, 1], np.int32))
  raw = path.read_bytes()
  assert raw[:4] == bytes.fromhex("544c3d1e")  # 0x1E3D4C54 little-endian.
  np.testing.assert_array_equal(
      np.frombuffer(raw, "<i4"), [0x1E3D4C54, 1, 2, 1, 1, 3, 1])
  dat = np.arange(2 * 2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 2, 3)
  smallnorb.write_norb_matrix(tmp_path / "dat.mat", dat)
  raw = (tmp_path / "dat.mat").read_bytes()
  np.testing.assert_array_equal(
      np.frombuffer(raw[:24], "<i4"), [0x1E3D4C55, 4, 2, 2, 2, 3])
  assert raw[24:] == dat.tobytes()
  np.testing.assert_array_equal(
      smallnorb.read_norb_matrix(tmp_path / "dat.mat"), dat)


@pytest.mark.parametrize("gz", [True, False])
def test_loads_official_files(tmp_path, gz):
  arrays = _write_all(tmp_path, gz=gz)
  ds = smallnorb.load("files", str(tmp_path))
  assert ds.name == "smallnorb"
  for split in ("train", "test"):
    got, expected = getattr(ds, split), arrays[split]
    assert got.x.shape == (N, SIZE, SIZE, 2) and got.x.dtype == np.float32
    np.testing.assert_allclose(got.x[..., 0], expected["dat"][:, 0] / 255,
                               rtol=1e-6)
    np.testing.assert_allclose(got.x[..., 1], expected["dat"][:, 1] / 255,
                               rtol=1e-6)
    assert got.y.dtype == np.int32 and got.y.shape == (N, 4)
    info = expected["info"]
    np.testing.assert_array_equal(
        got.y, np.stack([expected["cat"], info[:, 1], info[:, 2] // 2,
                         info[:, 3]], -1))
  assert ds.factor_sizes == (5, 9, 18, 6)
  assert ds.factor_names == ("category", "elevation", "azimuth", "lighting")
  assert ds.num_classes == 5 and len(ds.class_names) == 5
  assert ds.likelihood == "bernoulli"


def test_azimuth_is_halved(tmp_path):
  arrays = _write_all(tmp_path)
  ds = smallnorb.load("files", str(tmp_path))
  assert arrays["train"]["info"][:, 2].max() == 34  # The file's scale...
  assert ds.train.y[:, 2].max() == 17               # ...halved.


def test_known_locations_are_searched(tmp_path, monkeypatch):
  _write_all(tmp_path)
  monkeypatch.setattr(smallnorb, "KNOWN_LOCATIONS",
                      (str(tmp_path / "missing"), str(tmp_path)))
  assert len(smallnorb.load("files", "").test) == N


def test_missing_files_are_named(tmp_path, monkeypatch):
  _write_split(tmp_path, "train", _split_arrays(0))
  with pytest.raises(FileNotFoundError, match="testing-dat.mat"):
    smallnorb.load("files", str(tmp_path))
  empty = tmp_path / "empty"
  empty.mkdir()
  monkeypatch.setattr(smallnorb, "KNOWN_LOCATIONS", (str(empty),))
  with pytest.raises(FileNotFoundError, match="No Small NORB files"):
    smallnorb.load("files", "")


def _replace(tmp_path, kind, payload):
  name = f"{smallnorb.SPLIT_PREFIXES['train']}-{kind}.mat.gz"
  with gzip.open(tmp_path / name, "wb") as f:
    f.write(payload)
  return name


def _header(magic, *dims):
  return np.array((magic, len(dims)) + dims + (1,) * (3 - len(dims)),
                  "<i4").tobytes()


@pytest.mark.parametrize("kind, payload, message", [
    ("dat", b"\x00" * 5, "no header"),
    ("dat", _header(0x1E3D4C51, N, 2, SIZE, SIZE), "magic 0x1e3d4c51"),
    ("dat", _header(0x1E3D4C55, N, 2, SIZE, SIZE) + b"\x00" * 10,
     "truncated"),
    ("dat", _header(0x1E3D4C55, N, 2, SIZE, SIZE) + b"\x00" * (
        N * 2 * SIZE * SIZE + 1), "too long"),
    ("dat", _header(0x1E3D4C55, N, 3, SIZE, SIZE) + b"\x00" * (
        N * 3 * SIZE * SIZE), r"uint8 \[N, 2, H, W\]"),
    ("cat", _header(0x1E3D4C55, N) + b"\x00" * N, r"int32 \[N\]"),
    ("cat", _header(0x1E3D4C54, N - 1) + b"\x00" * 4 * (N - 1),
     "disagree on N"),
    ("cat", _header(0x1E3D4C54, N) + np.full(N, 5, "<i4").tobytes(),
     "category.*expected 0..4"),
    ("info", _header(0x1E3D4C54, N, 3) + b"\x00" * 4 * N * 3,
     r"int32 \[N, 4\]"),
])
def test_bad_files_are_rejected_with_the_file_name(tmp_path, kind, payload,
                                                   message):
  _write_all(tmp_path)
  name = _replace(tmp_path, kind, payload)
  with pytest.raises(ValueError, match=message) as err:
    smallnorb.load("files", str(tmp_path))
  assert name in str(err.value) or "disagree" in message


@pytest.mark.parametrize("column, value, message", [
    (0, 10, "instance"), (1, 9, "elevation"), (2, 3, "odd azimuth"),
    (2, 36, "azimuth / 2"), (3, -1, "lighting"),
])
def test_out_of_range_info_is_rejected(tmp_path, column, value, message):
  arrays = _write_all(tmp_path)
  info = arrays["train"]["info"].copy()
  info[4, column] = value
  _write_split(tmp_path, "train", dict(arrays["train"], info=info))
  with pytest.raises(ValueError, match=message):
    smallnorb.load("files", str(tmp_path))


def test_corrupt_gzip_names_the_file(tmp_path):
  _write_all(tmp_path)
  name = f"{smallnorb.SPLIT_PREFIXES['test']}-info.mat.gz"
  (tmp_path / name).write_bytes(b"definitely not gzip")
  with pytest.raises(ValueError, match=f"Cannot read NORB file .*{name}"):
    smallnorb.load("files", str(tmp_path))


def test_unknown_source_is_rejected():
  with pytest.raises(ValueError, match="'auto', 'files' or 'tfds'"):
    smallnorb.load("embedded", "")


def _tfds_examples(self, split, **kwargs):
  del self, kwargs
  assert split == ["train", "test"]
  sources = []
  for arrays in (_split_arrays(0), _split_arrays(1)):
    info = arrays["info"]
    sources.append([
        dict(image=dat[0][..., None], image2=dat[1][..., None],
             label_category=category, instance=row[0],
             label_elevation=row[1], label_azimuth=row[2] // 2,
             label_lighting=row[3])
        for dat, category, row in zip(arrays["dat"], arrays["cat"], info)])
  return sources


def test_tfds_source_matches_the_files(tmp_path):
  _write_all(tmp_path)
  from_files = smallnorb.load("files", str(tmp_path))
  with tfds.testing.mock_data(as_data_source_fn=_tfds_examples):
    from_tfds = smallnorb.load("tfds", "")
  for split in ("train", "test"):
    np.testing.assert_array_equal(getattr(from_tfds, split).x,
                                  getattr(from_files, split).x)
    np.testing.assert_array_equal(getattr(from_tfds, split).y,
                                  getattr(from_files, split).y)
  assert from_tfds.factor_sizes == from_files.factor_sizes


def test_tfds_generated_mock_data_loads():
  # TFDS's own random examples through the real data_source plumbing.
  with tfds.testing.mock_data(num_examples=3,
                              policy=tfds.testing.MockPolicy.USE_CODE):
    ds = smallnorb.load("tfds", "")
  assert ds.train.x.shape == (3, 96, 96, 2) and ds.test.y.shape == (3, 4)
  assert 0.0 <= ds.train.x.min() and ds.train.x.max() <= 1.0


def test_auto_falls_back_to_tfds_when_no_files_are_found(tmp_path,
                                                         monkeypatch):
  monkeypatch.setattr(smallnorb, "KNOWN_LOCATIONS", (str(tmp_path),))
  with tfds.testing.mock_data(as_data_source_fn=_tfds_examples):
    assert len(smallnorb.load("auto", "").train) == N
