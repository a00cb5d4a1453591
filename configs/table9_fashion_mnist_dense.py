r"""Paper Table 9: Table 5 (configs/table5_mnist_dense.py) on Fashion-MNIST.

  python -m experiments.sweep --config=configs/table9_fashion_mnist_dense.py \
      --workdir=results/table9_fashion_mnist_dense  # ':quick': 1-2 min (compiles)
"""

from configs import common
from configs import table5_mnist_dense


def get_config(arg: str = ""):
  return common.fashion_version(table5_mnist_dense, 9, arg, __file__)
