r"""Does unlabeled data help the classifier, on Fashion-MNIST?
configs/semi_supervised_mnist.py's
four rows (supervised sibling, the paper's model, + REMEDY, M2) at 100 and
1000 labels, 3 seeds, dense model (configs/fashion_mnist_dense.py, the
converged protocol). REMEDY and M2_LATENT_DIM are the MNIST config's.

Run:
  python -m experiments.sweep \
      --config=configs/semi_supervised_fashion_mnist.py \
      --workdir=results/semi_supervised_fashion_mnist
Quick (digits, tiny, as the MNIST quick):
  python -m experiments.sweep \
      --config=configs/semi_supervised_fashion_mnist.py:quick \
      --workdir=/tmp/semi_supervised_fashion_quick
"""

from configs import common
from configs import fashion_mnist_dense
from configs import semi_supervised_mnist

TITLE = ("Semi-supervised Fashion-MNIST (dense): supervised sibling, the "
         "paper's model, the paper's model + remedy, M2")
LABEL_COUNTS = (100, 1000)


def get_config(arg: str = ""):
  quick = common.parse_arg(arg, __file__)
  return semi_supervised_mnist.comparison_sweep(
      fashion_mnist_dense.get_config(), TITLE, LABEL_COUNTS, quick)
