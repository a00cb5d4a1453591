r"""Paper Table 4, CNN rows: MNIST, CNN of the paper's Table 14, ALL labels:
semi-supervised VAE vs supervised sibling (decoder as regularizer).

Table 4's sweep (configs/table4_mnist_dense.py) on the base of Table 3's CNN
rows (configs/table3_mnist_cnn.py), with its seeds and training length.

Run (':quick' after the .py: digits, 4-channel convs, 10 steps, seconds):
  python -m experiments.sweep --config=configs/table4_mnist_cnn.py \
      --workdir=results/table4_mnist_cnn
"""

from configs import common
from configs import table3_mnist_cnn
from configs import table4_mnist_dense

TITLE = ("Table 4 (MNIST, CNN, all labels): test accuracy, decoder as "
         "regularizer")


def get_config(arg: str = ""):
  quick = common.parse_arg(arg, __file__)
  return table4_mnist_dense.sweep(table3_mnist_cnn.base(), TITLE, quick)
