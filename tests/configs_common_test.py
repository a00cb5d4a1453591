"""Tests for configs/common.py: the quick argument, tiny recipe, sweeps."""

import subprocess
import sys

import pytest

from configs import common
from configs import default
from configs import mnist_dense
from ssvae.data import registry


def test_parse_arg():
  assert common.parse_arg("", "x.py") is False
  assert common.parse_arg(None, "x.py") is False
  assert common.parse_arg("quick", "x.py") is True
  with pytest.raises(ValueError, match="x.py.*'fast'"):
    common.parse_arg("fast", "x.py")


def test_configs_common_imports_no_jax():
  code = ("import sys; import configs.common; "
          "assert 'jax' not in sys.modules, 'jax imported'")
  subprocess.run([sys.executable, "-c", code], check=True)


def test_tiny_swaps_mnist_for_digits_and_keeps_fashion_on_its_loader():
  mnist = common.tiny(mnist_dense.get_config())
  assert (mnist.data.name, mnist.data.source) == ("digits", "auto")
  fashion = mnist_dense.get_config()
  fashion.data.name = "fashion_mnist"
  fashion = common.tiny(fashion)
  assert (fashion.data.name, fashion.data.source) == ("fashion_mnist",
                                                      "synthetic")
  dataset = registry.load_dataset(fashion.data)
  assert dataset.name == "fashion_mnist"
  assert dataset.class_names[0] == "T-shirt/top"
  assert dataset.train.x.shape[1:] == (28, 28, 1)
  assert fashion.train.num_steps == 10 and fashion.model.hidden_sizes == (16,)


def test_table_sweep_quick_variant():
  full = common.table_sweep(title="T", base=default.base_config(),
                            quick=False, axes=(("loss.alpha", (1.0,)),),
                            metrics=("accuracy",), num_seeds=5,
                            quick_num_seeds=2)
  quick = common.table_sweep(title="T", base=default.base_config(),
                             quick=True, axes=(("loss.alpha", (1.0,)),),
                             metrics=("accuracy",), num_seeds=5,
                             quick_num_seeds=2)
  assert (full.title, full.num_seeds) == ("T", 5)
  assert (quick.title, quick.num_seeds) == ("T [quick]", 2)
  assert quick.base.train.num_steps == 10
