"""Tests for ssvae.detect.inputs: the detector's input files and feedback
CSVs."""

import re

import numpy as np
import pytest

from ssvae.data import idx
from ssvae.detect import inputs

SHAPE = (8, 8, 1)


def save_npy(tmp_path, array, name="x.npy"):
  path = str(tmp_path / name)
  np.save(path, array)
  return path


def test_npy_of_training_shape_is_read_as_float32(tmp_path):
  array = np.random.default_rng(0).random((5,) + SHAPE)
  x = inputs.load_inputs(save_npy(tmp_path, array), SHAPE, "bernoulli")
  assert x.dtype == np.float32 and x.shape == (5,) + SHAPE
  np.testing.assert_allclose(x, array, rtol=1e-6)


@pytest.mark.parametrize("shape", [(5, 8, 8), (5, 64)])
def test_missing_channel_and_flattened_arrays_are_reshaped(tmp_path, shape):
  array = np.random.default_rng(0).random(shape)
  x = inputs.load_inputs(save_npy(tmp_path, array), SHAPE, "bernoulli")
  np.testing.assert_allclose(x.reshape(5, -1), array.reshape(5, -1),
                             rtol=1e-6)


def test_uint8_arrays_and_idx_files_are_0_to_255_images(tmp_path):
  images = np.array([[[0, 255], [51, 102]]], np.uint8)
  from_npy = inputs.load_inputs(save_npy(tmp_path, images), (2, 2, 1),
                                     "bernoulli")
  idx_path = str(tmp_path / "images-idx3-ubyte.gz")
  idx.write_idx(idx_path, images)
  from_idx = inputs.load_inputs(idx_path, (2, 2, 1), "bernoulli")
  np.testing.assert_allclose(from_npy[0, ..., 0], [[0, 1], [0.2, 0.4]])
  np.testing.assert_array_equal(from_idx, from_npy)


def test_npz_uses_x_or_the_only_array_or_the_named_key(tmp_path):
  a, b = np.zeros((2,) + SHAPE), np.ones((3,) + SHAPE)
  np.savez(tmp_path / "one.npz", images=b)
  np.savez(tmp_path / "named.npz", x=a, other=b)
  np.savez(tmp_path / "two.npz", a=a, b=b)
  load = lambda name, key="": inputs.load_inputs(
      str(tmp_path / name), SHAPE, "bernoulli", key)
  assert len(load("one.npz")) == 3
  assert len(load("named.npz")) == 2
  assert len(load("two.npz", "b")) == 3
  with pytest.raises(inputs.InputError, match=r"holds arrays \['a', "
                     r"'b'\]; choose one with --npz_key"):
    load("two.npz")


@pytest.mark.parametrize("writer", ["npy", "npz"])
def test_pickled_object_arrays_are_refused(tmp_path, writer):
  objects = np.array([{"a": 1}, None], dtype=object)
  path = str(tmp_path / f"objects.{writer}")
  if writer == "npy":
    np.save(path, objects, allow_pickle=True)
  else:
    np.savez(path, x=objects)
  with pytest.raises(inputs.InputError,
                     match="pickled object array, which is refused"):
    inputs.read_array(path)


def test_nan_values_are_reported_with_their_first_index(tmp_path):
  array = np.zeros((4,) + SHAPE)
  array[2, 3, 3, 0] = np.nan
  array[3, 0, 0, 0] = np.inf
  with pytest.raises(inputs.InputError,
                     match=r"NaN or infinite values in 2 example\(s\), first "
                     "at index 2"):
    inputs.read_array(save_npy(tmp_path, array))


def test_empty_inputs_are_refused(tmp_path):
  (tmp_path / "empty.npy").write_bytes(b"")
  with pytest.raises(inputs.InputError, match=r"is empty \(0 bytes\)"):
    inputs.read_array(str(tmp_path / "empty.npy"))
  with pytest.raises(inputs.InputError, match="holds no examples"):
    inputs.read_array(save_npy(tmp_path, np.zeros((0,) + SHAPE)))
  with pytest.raises(inputs.InputError, match="does not exist"):
    inputs.read_array(str(tmp_path / "missing.npy"))


def test_wrong_shape_names_the_expected_one(tmp_path):
  path = save_npy(tmp_path, np.zeros((3, 28, 28)))
  with pytest.raises(inputs.InputError,
                     match=r"shape \(3, 28, 28\); the model takes \[N, 8, 8, "
                     r"1\] \(or \[N, 64\] flattened\)"):
    inputs.load_inputs(path, SHAPE, "bernoulli")


def test_values_outside_the_unit_interval_are_refused_for_bernoulli(tmp_path):
  path = save_npy(tmp_path, np.full((2,) + SHAPE, 16.0))
  with pytest.raises(inputs.InputError, match=r"values in \[16, 16\]"):
    inputs.load_inputs(path, SHAPE, "bernoulli")
  assert inputs.load_inputs(path, SHAPE, "gaussian").max() == 16.0


def test_a_file_that_is_neither_numpy_nor_idx_is_refused(tmp_path):
  path = tmp_path / "notes.txt"
  path.write_text("hello, this is not an array file\n")
  with pytest.raises(inputs.InputError,
                     match="expected .npy, .npz or an IDX images file"):
    inputs.read_array(str(path))


def write_csv(tmp_path, text):
  path = tmp_path / "feedback.csv"
  path.write_text(text)
  return str(path)


def test_feedback_csv_gives_false_positive_and_negative_indices(tmp_path):
  path = write_csv(tmp_path, "index,label\n4,false_positive\n"
                   "1, false_negative\n\n7,false_positive\n")
  labels = inputs.read_feedback_csv(path, num_points=8)
  assert labels.false_positive_idx.tolist() == [4, 7]
  assert labels.false_negative_idx.tolist() == [1]


@pytest.mark.parametrize("text, message", [
    ("4,false_positive\n", "must start with the header line 'index,label'"),
    ("index,label\n", "no feedback rows"),
    ("index,label\n4,anomaly\n", "line 2: label 'anomaly' is not one of"),
    ("index,label\n8,false_positive\n", r"line 2: index '8' is not a row of "
     r"the scored data \(0..7\)"),
    ("index,label\n-1,false_positive\n", "index '-1' is not a row"),
    ("index,label\n3,false_positive\n3,false_negative\n",
     "labeled both false positive and false negative"),
    ("index,label\n3,false_positive,x\n", "line 2: expected 'index,label'"),
])
def test_bad_feedback_csv_rows_are_named(tmp_path, text, message):
  with pytest.raises(inputs.InputError, match=message):
    inputs.read_feedback_csv(write_csv(tmp_path, text), num_points=8)


def test_feedback_csv_with_a_byte_order_mark_is_read(tmp_path):
  path = tmp_path / "feedback.csv"
  path.write_text("index,label\n4,false_positive\n", encoding="utf-8-sig")
  assert path.read_bytes().startswith(b"\xef\xbb\xbf")
  labels = inputs.read_feedback_csv(str(path), num_points=8)
  assert labels.false_positive_idx.tolist() == [4]


@pytest.mark.parametrize("index", ["\u00b2", "\u0663", "1.5", "+3", "0x1"])
def test_feedback_index_that_is_not_an_ascii_number_is_named(tmp_path, index):
  path = write_csv(tmp_path, f"index,label\n1,false_negative\n"
                   f"{index},false_positive\n")
  with pytest.raises(inputs.InputError,
                     match=rf"feedback\.csv line 3: index '{re.escape(index)}' "
                     r"is not a row of the scored data: not a whole number "
                     r"0\.\.7"):
    inputs.read_feedback_csv(path, num_points=8)


def test_feedback_csv_that_is_not_utf8_is_named(tmp_path):
  path = tmp_path / "feedback.csv"
  path.write_bytes(b"index,label\n4,false_positive\xff\n")
  with pytest.raises(inputs.InputError,
                     match=r"feedback\.csv is not UTF-8 text"):
    inputs.read_feedback_csv(str(path), num_points=8)
