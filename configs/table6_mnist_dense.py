r"""Paper Table 6, MNIST, dense model: anomaly ROC AUC for held-out classes 7
and 9 as a function of the labeled fraction of the normal training data.

Semi-supervised at label_fraction 0.01, 0.1, 0.5 and 1.0; the plain VAE
(unsupervised, label_fraction 0.0) is the 0-label row, an extra grid.

Base: configs/mnist_dense.py with mnist_dense.anomaly_protocol (model
selection and early stop as in Table 5, configs/table5_mnist_dense.py);
3 seeds per cell, 10 cells.

Run:
  python -m experiments.sweep --config=configs/table6_mnist_dense.py \
      --workdir=results/table6_mnist_dense
Quick (digits, class 7, fractions 0.1 and 1.0; what tests run):
  python -m experiments.sweep --config=configs/table6_mnist_dense.py:quick \
      --workdir=/tmp/table6_quick
"""

from configs import common
from configs import mnist_dense

TITLE = ("Table 6 (MNIST, dense): anomaly ROC AUC vs labeled fraction of the "
         "normal data")
LABEL_FRACTIONS = (0.01, 0.1, 0.5, 1.0)


def get_config(arg: str = ""):
  quick = common.parse_arg(arg, __file__)
  base = mnist_dense.anomaly_protocol(mnist_dense.get_config())
  base.data.label_fraction = 0.1
  if quick:
    base = common.tiny(base)
  classes = (7,) if quick else (7, 9)
  fractions = (0.1, 1.0) if quick else LABEL_FRACTIONS
  return common.new_sweep_config(
      title=common.titled(TITLE, quick),
      base=base,
      axes=(("data.held_out_class", classes),
            ("model.variant", ("semi_supervised",)),
            ("data.label_fraction", fractions)),
      extra_grids=((("data.held_out_class", classes),
                    ("model.variant", ("unsupervised",)),
                    ("data.label_fraction", (0.0,))),),
      num_seeds=2 if quick else 3,
      metrics=("auc",),
      plots_to_write=("auc_vs_label_fraction",))
