r"""Choosing alpha (the weight of the labeled cross-entropy) on validation.

The paper does not give alpha. This sweep trains the semi-supervised dense
model (configs/mnist_dense.py, its converged protocol) at 100 labels for
each candidate alpha and reports the validation accuracy of each seed's
selected state (`val_accuracy`): the alpha with the best val_accuracy is the
one the MNIST tables use. Test metrics are in the table too, but play no
part in the choice. Training is capped at 2000 steps with a patience of 4
evaluations: at 100 labels accuracy peaks within the first 1000 steps.

Run:
  python -m experiments.sweep --config=configs/select_alpha_mnist_dense.py \
      --workdir=results/select_alpha_mnist_dense
"""

from configs import common
from configs import mnist_dense

TITLE = ("alpha selection (MNIST, dense, semi-supervised, 100 labels): "
         "validation accuracy")
ALPHAS = (10.0, 100.0, 1000.0)


def get_config(arg: str = ""):
  quick = common.parse_arg(arg, __file__)
  base = mnist_dense.get_config()
  base.train.num_steps = 2000
  base.train.patience = 4
  return common.alpha_selection_sweep(base, title=TITLE, alphas=ALPHAS,
                                      quick=quick)
