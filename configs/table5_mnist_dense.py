r"""Paper Table 5, MNIST, dense model: anomaly detection ROC AUC per held-out
class 0..9, plain VAE (unsupervised) vs semi-supervised VAE.

The held-out class is removed from training and is the positive (anomalous)
class of the test split; score = -log MC reconstruction probability. The
semi-supervised model gets labels on data.label_fraction = 0.1 of the normal
training data (class-balanced; num_labels is then ignored, and must not be
relied on: with 9 classes left, 100 labels would not divide evenly).

Base: configs/mnist_dense.py with the anomaly protocol of
mnist_dense.anomaly_protocol: each seed's state selected by validation ELBO
(the validation split holds normal classes only), early stop once it has
not improved by 0.5 nats for 10 evaluations; 3 seeds per cell,
20 cells.

Run:
  python -m experiments.sweep --config=configs/table5_mnist_dense.py \
      --workdir=results/table5_mnist_dense
Quick (digits, held-out classes 0 and 1 only; what tests run):
  python -m experiments.sweep --config=configs/table5_mnist_dense.py:quick \
      --workdir=/tmp/table5_quick
"""

from configs import common
from configs import mnist_dense

TITLE = ("Table 5 (MNIST, dense): anomaly ROC AUC per held-out class, "
         "unsupervised vs semi-supervised (10% of normal data labeled)")
LABEL_FRACTION = 0.1
BASE = mnist_dense  # the experiment config the cells vary


def sweep(base, title: str, quick: bool):
  """Every held-out class x both variants on `base`'s data: Table 5 and
  Table 9 (Fashion-MNIST)."""
  base = mnist_dense.anomaly_protocol(base)
  base.data.label_fraction = LABEL_FRACTION
  return common.table_sweep(
      title=title, base=base, quick=quick,
      axes=(("data.held_out_class", (0, 1) if quick else tuple(range(10))),
            ("model.variant", ("unsupervised", "semi_supervised"))),
      num_seeds=3, quick_num_seeds=2,
      metrics=("auc",),
      plots_to_write=("auc_per_class",))


def get_config(arg: str = ""):
  quick = common.parse_arg(arg, __file__)
  return sweep(BASE.get_config(), TITLE, quick)
