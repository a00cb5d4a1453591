r"""Paper Table 3, MNIST, dense model: semi-supervised VAE vs its supervised
sibling (encoder + y only) at 100, 600, 1000 and 3000 class-balanced labels
(the counts pyro's M2 example reports).

Base: configs/mnist_dense.py (784-1024-1024-{2, 2, 10}) with its converged
protocol (validation-selected, early stopping), 5 seeds per cell trained as
one vmapped program.

Run (the committed ledger; rerun to continue unfinished cells):
  python -m experiments.sweep --config=configs/table3_mnist_dense.py \
      --workdir=results/table3_mnist_dense
Quick (8x8 digits, tiny model, 10 steps, 2 seeds; what tests run):
  python -m experiments.sweep --config=configs/table3_mnist_dense.py:quick \
      --workdir=/tmp/table3_quick
"""

from configs import common
from configs import mnist_dense

TITLE = ("Table 3 (MNIST, dense): test accuracy, semi-supervised vs "
         "supervised")
LABEL_COUNTS = (100, 600, 1000, 3000)
QUICK_LABEL_COUNTS = (100, 1000)  # the 8x8 digits have 1350 training points
BASE = mnist_dense  # the experiment config the cells vary


def sweep(base, title: str, quick: bool):
  """Semi-supervised vs supervised at LABEL_COUNTS on `base`: Table 3, its
  CNN rows (configs/table3_mnist_cnn.py) and Table 7 (Fashion-MNIST)."""
  return common.table_sweep(
      title=title, base=base, quick=quick,
      axes=(("model.variant", ("semi_supervised", "supervised")),
            ("data.num_labels", QUICK_LABEL_COUNTS if quick else LABEL_COUNTS)),
      num_seeds=5, quick_num_seeds=2,
      metrics=("accuracy", "log_loss"),
      plots_to_write=("accuracy_vs_labels",))


def get_config(arg: str = ""):
  quick = common.parse_arg(arg, __file__)
  return sweep(BASE.get_config(), TITLE, quick)
