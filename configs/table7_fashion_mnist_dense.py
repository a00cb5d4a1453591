r"""Paper Table 7: Table 3 (configs/table3_mnist_dense.py) on Fashion-MNIST.

  python -m experiments.sweep --config=configs/table7_fashion_mnist_dense.py \
      --workdir=results/table7_fashion_mnist_dense  # ':quick': 1-2 min (compiles)
"""

from configs import common
from configs import table3_mnist_dense


def get_config(arg: str = ""):
  return common.fashion_version(table3_mnist_dense, 7, arg, __file__)
