"""Tests for the UCI HAR loader on tiny synthetic files in the official layout."""

import pathlib

import numpy as np
import pytest

from ssvae.data import uci_har

T = uci_har.WINDOW_LENGTH


def _write_rows(path: pathlib.Path, rows: np.ndarray) -> None:
  # The official files use leading spaces and e-notation, e.g. " 1.8e-004".
  with open(path, "w") as f:
    for row in rows:
      f.write(" " + " ".join(f"{v: .7e}" for v in row) + "\n")


def _signal_values(split: str, channel_index: int, n: int) -> np.ndarray:
  """Distinct, recognizable values: offset by split and channel."""
  offset = (0.0 if split == "train" else 100.0) + 10.0 * channel_index
  return offset + np.arange(n * T, dtype=np.float64).reshape(n, T) / (n * T)


def make_har(base: pathlib.Path, n_train: int = 4, n_test: int = 3,
             activity_labels: bool = True) -> pathlib.Path:
  root = base / uci_har.FOLDER_NAME
  labels = {"train": [1, 2, 6, 3][:n_train], "test": [4, 5, 6][:n_test]}
  sizes = {"train": n_train, "test": n_test}
  for split in uci_har.SPLITS:
    signals_dir = root / split / "Inertial Signals"
    signals_dir.mkdir(parents=True)
    for c, channel in enumerate(uci_har.ALL_CHANNELS):
      _write_rows(signals_dir / f"{channel}_{split}.txt",
                  _signal_values(split, c, sizes[split]))
    (root / split / f"y_{split}.txt").write_text(
        "".join(f"{v}\n" for v in labels[split]))
  if activity_labels:
    (root / "activity_labels.txt").write_text("".join(
        f"{i} {name}\n" for i, name in enumerate(uci_har.CLASS_NAMES, 1)))
  return root


def test_raw_values_shapes_labels_and_channel_order(tmp_path):
  make_har(tmp_path)
  data = uci_har.load("files", str(tmp_path), standardize=False)
  assert data.name == "uci_har"
  assert data.train.x.shape == (4, T, 6)
  assert data.test.x.shape == (3, T, 6)
  assert data.train.x.dtype == np.float32
  assert data.train.y.dtype == np.int32
  np.testing.assert_array_equal(data.train.y, [0, 1, 5, 2])
  np.testing.assert_array_equal(data.test.y, [3, 4, 5])
  assert data.num_classes == 6
  assert data.likelihood == "gaussian"
  assert data.class_names == uci_har.CLASS_NAMES
  assert data.input_shape == (T, 6)
  for c in range(6):
    np.testing.assert_allclose(data.train.x[..., c],
                               _signal_values("train", c, 4), rtol=1e-6)
    np.testing.assert_allclose(data.test.x[..., c],
                               _signal_values("test", c, 3), rtol=1e-6)


def test_custom_channels_in_given_order(tmp_path):
  make_har(tmp_path)
  data = uci_har.load("auto", str(tmp_path),
                      channels=("total_acc_z", "body_acc_x"),
                      standardize=False)
  assert data.train.x.shape == (4, T, 2)
  np.testing.assert_allclose(data.train.x[..., 0],
                             _signal_values("train", 8, 4), rtol=1e-6)
  np.testing.assert_allclose(data.train.x[..., 1],
                             _signal_values("train", 0, 4), rtol=1e-6)


def test_standardizes_with_train_statistics(tmp_path):
  make_har(tmp_path)
  raw = uci_har.load("files", str(tmp_path), standardize=False)
  data = uci_har.load("files", str(tmp_path))
  np.testing.assert_allclose(data.train.x.mean(axis=(0, 1)), 0.0, atol=1e-5)
  np.testing.assert_allclose(data.train.x.std(axis=(0, 1)), 1.0, atol=1e-5)
  # Test split uses the TRAIN mean/std, so it is not itself zero-mean.
  mean = raw.train.x.mean(axis=(0, 1), dtype=np.float64)
  std = raw.train.x.std(axis=(0, 1), dtype=np.float64)
  np.testing.assert_allclose(data.test.x, (raw.test.x - mean) / std,
                             rtol=1e-5, atol=1e-4)
  assert np.all(data.test.x.mean(axis=(0, 1)) > 10.0)


def test_accepts_the_dataset_folder_itself(tmp_path):
  root = make_har(tmp_path, activity_labels=False)
  data = uci_har.load("files", str(root), standardize=False)
  assert data.class_names == uci_har.CLASS_NAMES
  assert len(data.train) == 4


def test_class_names_come_from_activity_labels(tmp_path):
  root = make_har(tmp_path)
  (root / "activity_labels.txt").write_text(
      "".join(f"{i} A{i}\n" for i in (6, 5, 4, 3, 2, 1)))
  data = uci_har.load("files", str(root))
  assert data.class_names == ("A1", "A2", "A3", "A4", "A5", "A6")


def test_missing_folder_says_how_to_get_the_data(tmp_path):
  with pytest.raises(FileNotFoundError, match="UCI HAR Dataset.*archive.ics"):
    uci_har.load("files", str(tmp_path / "nowhere"))


def test_missing_signal_file_is_named(tmp_path):
  root = make_har(tmp_path)
  (root / "test" / "Inertial Signals" / "body_gyro_y_test.txt").unlink()
  with pytest.raises(FileNotFoundError, match="body_gyro_y_test.txt"):
    uci_har.load("files", str(tmp_path))


def test_missing_label_file_is_named(tmp_path):
  root = make_har(tmp_path)
  (root / "train" / "y_train.txt").unlink()
  with pytest.raises(FileNotFoundError, match="y_train.txt"):
    uci_har.load("files", str(tmp_path))


def test_row_with_wrong_length_names_file_and_line(tmp_path):
  root = make_har(tmp_path)
  path = root / "train" / "Inertial Signals" / "body_acc_y_train.txt"
  lines = path.read_text().splitlines()
  lines[2] = " ".join(lines[2].split()[:-1])
  path.write_text("\n".join(lines) + "\n")
  with pytest.raises(ValueError,
                     match=r"body_acc_y_train.txt line 3 has 127 values"):
    uci_har.load("files", str(tmp_path))


def test_non_numeric_value_names_file_and_line(tmp_path):
  root = make_har(tmp_path)
  path = root / "test" / "Inertial Signals" / "body_acc_x_test.txt"
  lines = path.read_text().splitlines()
  lines[1] = lines[1].replace(lines[1].split()[5], "oops", 1)
  path.write_text("\n".join(lines) + "\n")
  with pytest.raises(ValueError, match=r"body_acc_x_test.txt line 2 .*numeric"):
    uci_har.load("files", str(tmp_path))


def test_inconsistent_row_counts(tmp_path):
  root = make_har(tmp_path)
  path = root / "train" / "Inertial Signals" / "body_gyro_x_train.txt"
  _write_rows(path, _signal_values("train", 3, 3))
  with pytest.raises(ValueError,
                     match=r"body_gyro_x_train.txt has 3 rows .* 4 labels"):
    uci_har.load("files", str(tmp_path))


@pytest.mark.parametrize("bad_label", ["0", "7", "two"])
def test_bad_labels_name_file_and_line(tmp_path, bad_label):
  root = make_har(tmp_path)
  (root / "test" / "y_test.txt").write_text(f"4\n{bad_label}\n6\n")
  with pytest.raises(ValueError, match=r"y_test.txt line 2"):
    uci_har.load("files", str(tmp_path))


def test_unknown_channel(tmp_path):
  make_har(tmp_path)
  with pytest.raises(ValueError, match="Unknown UCI HAR channel.*body_mag_x"):
    uci_har.load("files", str(tmp_path), channels=("body_acc_x", "body_mag_x"))


def test_tfds_source_is_rejected(tmp_path):
  with pytest.raises(ValueError, match="not in TFDS"):
    uci_har.load("tfds", str(tmp_path))


def test_constant_channel_cannot_be_standardized(tmp_path):
  root = make_har(tmp_path)
  _write_rows(root / "train" / "Inertial Signals" / "body_acc_z_train.txt",
              np.ones((4, T)))
  with pytest.raises(ValueError, match=r"channel\(s\) \[2\] are constant"):
    uci_har.load("files", str(tmp_path))
