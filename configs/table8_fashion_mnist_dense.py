r"""Paper Table 8: the Fashion-MNIST version of Table 4
(configs/table4_mnist_dense.py): same grid, seeds and training length,
data.name = "fashion_mnist" (../shared/data/fashion_mnist, Debian's
/usr/share/datasets/fashion-mnist, or
--config.base.data.data_dir with the official IDX files).

Run:
  python -m experiments.sweep --config=configs/table8_fashion_mnist_dense.py \
      --workdir=results/table8_fashion_mnist_dense
Quick (digits, tiny, as table4's quick; what tests run):
  python -m experiments.sweep \
      --config=configs/table8_fashion_mnist_dense.py:quick \
      --workdir=/tmp/table8_quick
"""

from configs import table4_mnist_dense
from ssvae import sweep

TITLE = ("Table 8 (Fashion-MNIST, dense, all labels): test accuracy, "
         "decoder as regularizer")


def get_config(arg: str = ""):
  quick = sweep.parse_config_arg(arg, __file__)
  config = table4_mnist_dense.get_config(arg)
  config.title = TITLE + (" [quick]" if quick else "")
  if not quick:
    config.base.data.name = "fashion_mnist"
  return config
