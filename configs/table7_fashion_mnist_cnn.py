r"""Paper Table 7, CNN rows: Table 3's CNN rows (configs/table3_mnist_cnn.py)
on Fashion-MNIST.

The same grid, seeds and training length as configs/table3_mnist_cnn.py
(its base: configs/mnist_cnn.py at 1500 steps), derived as the dense Table 7
(configs/table7_fashion_mnist_dense.py) is, by common.fashion_version.

Run:
  python -m experiments.sweep --config=configs/table7_fashion_mnist_cnn.py \
      --workdir=results/table7_fashion_mnist_cnn
Quick (a tiny synthetic Fashion-MNIST in the official IDX format, 4-channel
convs, 10 steps, 2 seeds; what tests run):
  python -m experiments.sweep --config=configs/table7_fashion_mnist_cnn.py:quick \
      --workdir=/tmp/table7_cnn_quick
"""

from configs import common
from configs import table3_mnist_cnn
from configs import table3_mnist_dense


def get_config(arg: str = ""):
  # The CNN rows' base config (table3_mnist_cnn.base) with the dense rows'
  # grid (table3_mnist_dense.sweep).
  return common.fashion_version(table3_mnist_cnn, 7, arg, __file__,
                                base=table3_mnist_cnn.base,
                                sweep=table3_mnist_dense.sweep)
