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

from configs import mnist_dense
from ssvae import sweep

TITLE = ("Table 4 (MNIST, dense, all labels): test accuracy, decoder as "
         "regularizer")


def get_config(arg: str = ""):
  quick = sweep.parse_config_arg(arg, __file__)
  base = mnist_dense.get_config()
  base.data.num_labels = -1
  if quick:
    base = sweep.quick_base(base)
  return sweep.new_sweep_config(
      title=TITLE + (" [quick]" if quick else ""),
      base=base,
      axes=(("model.variant", ("semi_supervised", "supervised")),),
      num_seeds=2 if quick else 5,
      metrics=("accuracy", "log_loss"))
