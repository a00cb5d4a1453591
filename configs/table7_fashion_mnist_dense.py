r"""Paper Table 7: the Fashion-MNIST version of Table 3
(configs/table3_mnist_dense.py): same grid, seeds and training length,
data.name = "fashion_mnist" (../shared/data/fashion_mnist, Debian's
/usr/share/datasets/fashion-mnist, or
--config.base.data.data_dir with the official IDX files).

Run:
  python -m experiments.sweep --config=configs/table7_fashion_mnist_dense.py \
      --workdir=results/table7_fashion_mnist_dense
Quick (digits, tiny, as table3's quick; what tests run):
  python -m experiments.sweep \
      --config=configs/table7_fashion_mnist_dense.py:quick \
      --workdir=/tmp/table7_quick
"""

from configs import table3_mnist_dense
from ssvae import sweep

TITLE = ("Table 7 (Fashion-MNIST, dense): test accuracy, semi-supervised "
         "vs supervised")


def get_config(arg: str = ""):
  quick = sweep.parse_config_arg(arg, __file__)
  config = table3_mnist_dense.get_config(arg)
  config.title = TITLE + (" [quick]" if quick else "")
  if not quick:
    config.base.data.name = "fashion_mnist"
  return config
