r"""Paper Table 4, MNIST, dense model, ALL labels (num_labels=-1):
semi-supervised VAE vs supervised sibling, i.e. the decoder as a regularizer
of the classifier when labels are plentiful.

Base: configs/mnist_dense.py with its converged protocol (validation-
selected, early stopping), 5 seeds per cell.

Run:
  python -m experiments.sweep --config=configs/table4_mnist_dense.py \
      --workdir=results/table4_mnist_dense
Quick (digits, tiny; what tests run):
  python -m experiments.sweep --config=configs/table4_mnist_dense.py:quick \
      --workdir=/tmp/table4_quick
"""

from configs import common
from configs import mnist_dense

TITLE = ("Table 4 (MNIST, dense, all labels): test accuracy, decoder as "
         "regularizer")
BASE = mnist_dense  # the experiment config the cells vary


def sweep(base, title: str, quick: bool):
  """Both variants on every label of `base`'s data: Table 4, its CNN rows
  (configs/table4_mnist_cnn.py) and Table 8 (Fashion-MNIST)."""
  base.data.num_labels = -1
  return common.table_sweep(
      title=title, base=base, quick=quick,
      axes=(("model.variant", ("semi_supervised", "supervised")),),
      num_seeds=5, quick_num_seeds=2,
      metrics=("accuracy", "log_loss"))


def get_config(arg: str = ""):
  quick = common.parse_arg(arg, __file__)
  return sweep(BASE.get_config(), TITLE, quick)
