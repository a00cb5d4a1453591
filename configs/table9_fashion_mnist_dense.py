r"""Paper Table 9: the Fashion-MNIST version of Table 5
(configs/table5_mnist_dense.py): same grid, seeds and training length, on
configs/fashion_mnist_dense.py (which says where the data are found).

Run:
  python -m experiments.sweep --config=configs/table9_fashion_mnist_dense.py \
      --workdir=results/table9_fashion_mnist_dense
Quick (a tiny synthetic Fashion-MNIST in the official IDX format, read
through the Fashion-MNIST loader; what tests run):
  python -m experiments.sweep \
      --config=configs/table9_fashion_mnist_dense.py:quick \
      --workdir=/tmp/table9_quick
"""

from configs import common
from configs import fashion_mnist_dense
from configs import table5_mnist_dense

TITLE = ("Table 9 (Fashion-MNIST, dense): anomaly ROC AUC per held-out "
         "class, unsupervised vs semi-supervised (10% of normal data "
         "labeled)")


def get_config(arg: str = ""):
  quick = common.parse_arg(arg, __file__)
  base = fashion_mnist_dense.get_config()
  return table5_mnist_dense.anomaly_sweep(base, TITLE, quick)
