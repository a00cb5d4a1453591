r"""Paper Table 7: the Fashion-MNIST version of Table 3
(configs/table3_mnist_dense.py): same grid, seeds and training length,
data.name = "fashion_mnist" (../shared/data/fashion_mnist, Debian's
/usr/share/datasets/fashion-mnist, or
--config.base.data.data_dir with the official IDX files).

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
from configs import mnist_dense
from configs import table3_mnist_dense

TITLE = ("Table 7 (Fashion-MNIST, dense): test accuracy, semi-supervised "
         "vs supervised")


def get_config(arg: str = ""):
  quick = common.parse_arg(arg, __file__)
  base = mnist_dense.get_config()
  base.data.name = "fashion_mnist"
  return table3_mnist_dense.label_count_sweep(base, TITLE, quick)
