"""Tests for ssvae.data.mnist: one load() for MNIST and Fashion-MNIST."""

import pytest

from ssvae import errors
from ssvae.data import mnist


@pytest.mark.parametrize("name", mnist.NAMES)
def test_synthetic_stand_in_has_the_official_shapes(name):
  data = mnist.load("synthetic", name=name)
  assert data.name == name and data.num_classes == 10
  assert data.train.x.shape[1:] == (28, 28, 1) == data.test.x.shape[1:]
  assert 0.0 <= data.train.x.min() and data.train.x.max() <= 1.0


def test_files_not_found_then_auto_names_both_sources(tmp_path):
  with pytest.raises(errors.DataNotFoundError, match=str(tmp_path)):
    mnist.load("files", str(tmp_path))
  with pytest.raises(errors.DataNotFoundError,
                     match=r"1\) raw files: .* 2\) tfds: "):
    mnist.load("auto", str(tmp_path))


@pytest.mark.parametrize("kwargs, message", [
    (dict(source="embedded"), "no embedded copy of mnist"),
    (dict(source="auto", name="kmnist"), "not 'kmnist'"),
])
def test_bad_requests_are_named(kwargs, message):
  with pytest.raises(errors.ConfigError, match=message):
    mnist.load(**kwargs)
