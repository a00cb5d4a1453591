r"""Paper Table 8, CNN rows: Table 4's CNN rows (configs/table4_mnist_cnn.py,
all labels) on Fashion-MNIST.

The same grid, seeds and training length as configs/table4_mnist_cnn.py
(its base: configs/table3_mnist_cnn.py's), derived as the dense Table 8
(configs/table8_fashion_mnist_dense.py) is, by common.fashion_version.

Run:
  python -m experiments.sweep --config=configs/table8_fashion_mnist_cnn.py \
      --workdir=results/table8_fashion_mnist_cnn
Quick (a tiny synthetic Fashion-MNIST in the official IDX format, 4-channel
convs, 10 steps, 2 seeds; what tests run):
  python -m experiments.sweep --config=configs/table8_fashion_mnist_cnn.py:quick \
      --workdir=/tmp/table8_cnn_quick
"""

from configs import common
from configs import table3_mnist_cnn
from configs import table4_mnist_cnn
from configs import table4_mnist_dense


def get_config(arg: str = ""):
  # The CNN rows' base config (table3_mnist_cnn.base) with the dense rows'
  # grid (table4_mnist_dense.sweep).
  return common.fashion_version(table4_mnist_cnn, 8, arg, __file__,
                                base=table3_mnist_cnn.base,
                                sweep=table4_mnist_dense.sweep)
