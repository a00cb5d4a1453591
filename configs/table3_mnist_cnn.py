r"""Paper Table 3, CNN rows: MNIST, CNN of the paper's Table 14,
semi-supervised VAE vs supervised sibling at 100 and 1000 labels.

Base: configs/mnist_cnn.py, but 1500 steps at batch 128 (fewer than the dense
sweep's 3000: a CNN step costs far more on CPU), 5 seeds per cell.

Run:
  python -m experiments.sweep --config=configs/table3_mnist_cnn.py \
      --workdir=workdirs/table3_mnist_cnn
Quick (digits, 4-channel convs, 10 steps; what tests run):
  python -m experiments.sweep --config=configs/table3_mnist_cnn.py:quick \
      --workdir=/tmp/table3_cnn_quick
"""

from configs import common
from configs import mnist_cnn
from configs import table3_mnist_dense

TITLE = "Table 3 (MNIST, CNN): test accuracy, semi-supervised vs supervised"
NUM_STEPS = 1500


def base():
  """configs/mnist_cnn.py trained NUM_STEPS steps, evaluated and
  checkpointed every 500: the base of Table 3's and Table 4's CNN rows."""
  config = mnist_cnn.get_config()
  config.train.num_steps = NUM_STEPS
  config.train.checkpoint_every = 500
  config.train.eval_every = 500
  return config


def get_config(arg: str = ""):
  quick = common.parse_arg(arg, __file__)
  return table3_mnist_dense.sweep(base(), TITLE, quick)
