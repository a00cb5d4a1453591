"""Tests for ssvae.data.labels."""

import numpy as np
import pytest

from ssvae.data import dataset as dataset_lib
from ssvae.data import labels

# 3 classes of sizes 6, 4 and 2.
Y = np.array([0] * 6 + [1] * 4 + [2] * 2, dtype=np.int32)


def test_num_labels_is_class_balanced_sorted_int32():
  chosen = labels.select_labeled_indices(Y, num_labels=6, num_classes=3,
                                         seed=0)
  assert chosen.dtype == np.int32
  assert np.all(np.diff(chosen) > 0)  # Sorted, no duplicates.
  np.testing.assert_array_equal(np.bincount(Y[chosen], minlength=3), [2, 2, 2])


def test_balances_over_classes_present_only():
  y = np.array([0, 0, 2, 2, 2], dtype=np.int32)  # Class 1 absent.
  chosen = labels.select_labeled_indices(y, num_labels=4, num_classes=3,
                                         seed=1)
  np.testing.assert_array_equal(np.bincount(y[chosen], minlength=3),
                                [2, 0, 2])


def test_fraction_rounds_per_class_half_up():
  # 0.25 * [6, 4, 2] = [1.5, 1, 0.5] -> [2, 1, 1].
  chosen = labels.select_labeled_indices(Y, fraction=0.25, num_classes=3,
                                         seed=0)
  np.testing.assert_array_equal(np.bincount(Y[chosen], minlength=3), [2, 1, 1])


@pytest.mark.parametrize("kwargs", [{}, {"num_labels": -1},
                                    {"num_labels": None}, {"fraction": 1.0}])
def test_all_labels(kwargs):
  chosen = labels.select_labeled_indices(Y, num_classes=3, seed=0, **kwargs)
  np.testing.assert_array_equal(chosen, np.arange(len(Y)))


def test_zero_labels():
  for kwargs in ({"num_labels": 0}, {"fraction": 0.0}):
    chosen = labels.select_labeled_indices(Y, num_classes=3, seed=0, **kwargs)
    assert chosen.shape == (0,) and chosen.dtype == np.int32


def test_deterministic_in_seed_and_seeds_differ():
  y = np.repeat(np.arange(10), 50).astype(np.int32)
  pick = lambda seed: labels.select_labeled_indices(
      y, num_labels=20, num_classes=10, seed=seed)
  np.testing.assert_array_equal(pick(3), pick(3))
  assert not np.array_equal(pick(3), pick(4))


def test_not_divisible_error_names_numbers():
  with pytest.raises(ValueError, match=r"num_labels=7.*3 classes"):
    labels.select_labeled_indices(Y, num_labels=7, num_classes=3, seed=0)


def test_more_than_available_overall():
  with pytest.raises(ValueError, match=r"15 labels.*only 12"):
    labels.select_labeled_indices(Y, num_labels=15, num_classes=3, seed=0)


def test_more_than_available_in_a_class():
  with pytest.raises(ValueError, match=r"3 labels of class 2.*only 2"):
    labels.select_labeled_indices(Y, num_labels=9, num_classes=3, seed=0)


@pytest.mark.parametrize("kwargs,match", [
    ({"num_labels": 3, "fraction": 0.5}, "not both"),
    ({"fraction": 1.5}, r"\[0, 1\]"),
    ({"num_labels": -2}, ">= 0"),
])
def test_bad_requests(kwargs, match):
  with pytest.raises(ValueError, match=match):
    labels.select_labeled_indices(Y, num_classes=3, seed=0, **kwargs)


def test_labels_out_of_range_rejected():
  with pytest.raises(ValueError, match=r"0\.\.1"):
    labels.select_labeled_indices(Y, num_labels=3, num_classes=2, seed=0)


def test_multi_factor_labels_uniform_without_balancing():
  y = np.stack([np.zeros(20, np.int32), np.arange(20) % 4], axis=1)
  chosen = labels.select_labeled_indices(y, num_labels=7, num_classes=3,
                                         seed=0)
  assert chosen.shape == (7,) and len(np.unique(chosen)) == 7
  assert chosen.min() >= 0 and chosen.max() < 20
  by_fraction = labels.select_labeled_indices(y, fraction=0.25, num_classes=3,
                                              seed=0)
  assert by_fraction.shape == (5,)


def _dataset():
  x = np.arange(len(Y), dtype=np.float32)[:, None]
  test = dataset_lib.Split(x=x[:3], y=np.array([0, 1, 2], np.int32))
  return dataset_lib.Dataset(name="toy", train=dataset_lib.Split(x=x, y=Y),
                             test=test, num_classes=3, likelihood="gaussian")


def test_hold_out_class_removes_from_train_only():
  held_out = labels.hold_out_class(_dataset(), 1)
  np.testing.assert_array_equal(held_out.train.y, [0] * 6 + [2] * 2)
  np.testing.assert_array_equal(held_out.train.x[:, 0],
                                [0, 1, 2, 3, 4, 5, 10, 11])
  np.testing.assert_array_equal(held_out.test.y, [0, 1, 2])
  assert held_out.num_classes == 3 and held_out.name == "toy"


@pytest.mark.parametrize("cls", [-1, 3, 1.0])
def test_hold_out_invalid_class(cls):
  with pytest.raises(ValueError, match="Held-out class"):
    labels.hold_out_class(_dataset(), cls)
