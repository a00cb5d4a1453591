r"""Paper Table 8: Table 4 (configs/table4_mnist_dense.py) on Fashion-MNIST.

  python -m experiments.sweep --config=configs/table8_fashion_mnist_dense.py \
      --workdir=results/table8_fashion_mnist_dense  # ':quick': 1-2 min (compiles)
"""

from configs import common
from configs import table4_mnist_dense


def get_config(arg: str = ""):
  return common.fashion_version(table4_mnist_dense, 8, arg, __file__)
