"""Tests for ssvae.data.digits (scikit-learn's bundled 8x8 digits)."""

import numpy as np
import pytest
from sklearn import datasets as sklearn_datasets

from ssvae.data import digits


def test_shapes_scaling_and_split():
  data = digits.load_digits_dataset()
  assert data.name == "digits" and data.num_classes == 10
  assert data.likelihood == "bernoulli"
  assert data.input_shape == (8, 8, 1)
  assert len(data.train) == 1500 and len(data.test) == 297
  assert data.train.x.dtype == np.float32 and data.train.y.dtype == np.int32
  assert data.train.x.min() == 0.0 and data.train.x.max() == 1.0
  assert set(np.unique(data.test.y)) == set(range(10))
  assert data.class_names == tuple("0123456789")


def test_split_is_a_stratified_shuffle_of_sklearn_images():
  bunch = sklearn_datasets.load_digits()
  train, test = digits.split_indices(bunch.target, 1000)
  assert len(train) == 1000 and len(test) == len(bunch.target) - 1000
  assert set(train).isdisjoint(test)
  assert set(train) | set(test) == set(range(len(bunch.target)))
  # Both splits draw from the whole file, so from every group of writers.
  assert test.min() < 100 and test.max() > len(bunch.target) - 100
  # Stratified: every class has the same share of the test split (+-1).
  per_class = np.bincount(bunch.target[test], minlength=10)
  expected = np.bincount(bunch.target) * len(test) / len(bunch.target)
  assert np.all(np.abs(per_class - expected) <= 1)
  data = digits.load_digits_dataset(num_train=1000)
  np.testing.assert_allclose(data.train.x[7, :, :, 0],
                             bunch.images[train[7]] / 16)
  np.testing.assert_allclose(data.test.x[0, :, :, 0],
                             bunch.images[test[0]] / 16)
  np.testing.assert_array_equal(data.test.y, bunch.target[test])


def test_deterministic():
  first, second = digits.load_digits_dataset(), digits.load_digits_dataset()
  np.testing.assert_array_equal(first.train.x, second.train.x)
  np.testing.assert_array_equal(first.test.y, second.test.y)


@pytest.mark.parametrize("num_train", [0, 9, 1788, 1797])
def test_bad_num_train(num_train):
  with pytest.raises(ValueError, match="num_train"):
    digits.load_digits_dataset(num_train=num_train)
