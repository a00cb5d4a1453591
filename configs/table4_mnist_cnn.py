r"""Paper Table 4, CNN rows: MNIST, CNN of the paper's Table 14, ALL labels:
semi-supervised VAE vs supervised sibling (decoder as regularizer).

Base, seeds and training length: Table 3's CNN rows
(configs/table3_mnist_cnn.py).

Run:
  python -m experiments.sweep --config=configs/table4_mnist_cnn.py \
      --workdir=workdirs/table4_mnist_cnn
Quick (digits, 4-channel convs, 10 steps; what tests run):
  python -m experiments.sweep --config=configs/table4_mnist_cnn.py:quick \
      --workdir=/tmp/table4_cnn_quick
"""

from configs import common
from configs import table3_mnist_cnn

TITLE = ("Table 4 (MNIST, CNN, all labels): test accuracy, decoder as "
         "regularizer")


def get_config(arg: str = ""):
  quick = common.parse_arg(arg, __file__)
  config = table3_mnist_cnn.get_config(arg)
  config.title = common.titled(TITLE, quick)
  config.base.data.num_labels = -1
  config.axes = (("model.variant", ("semi_supervised", "supervised")),)
  config.plots = ()
  return config
