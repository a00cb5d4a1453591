r"""Paper Table 8: the Fashion-MNIST version of Table 4
(configs/table4_mnist_dense.py): same grid, seeds and training length, on
configs/fashion_mnist_dense.py (which says where the data are found).

Run:
  python -m experiments.sweep --config=configs/table8_fashion_mnist_dense.py \
      --workdir=results/table8_fashion_mnist_dense
Quick (a tiny synthetic Fashion-MNIST in the official IDX format, read
through the Fashion-MNIST loader; what tests run):
  python -m experiments.sweep \
      --config=configs/table8_fashion_mnist_dense.py:quick \
      --workdir=/tmp/table8_quick
"""

from configs import common
from configs import fashion_mnist_dense
from configs import table4_mnist_dense

TITLE = ("Table 8 (Fashion-MNIST, dense, all labels): test accuracy, "
         "decoder as regularizer")


def get_config(arg: str = ""):
  quick = common.parse_arg(arg, __file__)
  base = fashion_mnist_dense.get_config()
  return table4_mnist_dense.all_labels_sweep(base, TITLE, quick)
