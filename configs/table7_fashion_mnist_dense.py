r"""Paper Table 7: the Fashion-MNIST version of Table 3
(configs/table3_mnist_dense.py): same grid, seeds and training length, on
configs/fashion_mnist_dense.py (which says where the data are found).

Run:
  python -m experiments.sweep --config=configs/table7_fashion_mnist_dense.py \
      --workdir=results/table7_fashion_mnist_dense
Quick (a tiny synthetic Fashion-MNIST in the official IDX format, read
through the Fashion-MNIST loader; what tests run):
  python -m experiments.sweep \
      --config=configs/table7_fashion_mnist_dense.py:quick \
      --workdir=/tmp/table7_quick
"""

from configs import common
from configs import fashion_mnist_dense
from configs import table3_mnist_dense

TITLE = ("Table 7 (Fashion-MNIST, dense): test accuracy, semi-supervised "
         "vs supervised")


def get_config(arg: str = ""):
  quick = common.parse_arg(arg, __file__)
  base = fashion_mnist_dense.get_config()
  return table3_mnist_dense.label_count_sweep(base, TITLE, quick)
