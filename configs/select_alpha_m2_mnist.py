r"""Choosing M2's alpha (the weight of its labeled cross-entropy) on
validation, as configs/select_alpha_mnist_dense.py chose the paper model's.

M2 (model.variant=m2, latent semi_supervised_mnist.M2_LATENT_DIM) on
configs/mnist_dense.py's data, sizes and protocol at 100 labels, for each
candidate alpha; the table reports the validation accuracy of each seed's
selected state (`val_accuracy`), and the best is the alpha of the M2 rows of
configs/semi_supervised_mnist.py and semi_supervised_fashion_mnist.py. Test
metrics are shown beside it but play no part in the choice. With the
sampler's 1:1 batches alpha = 100 weights each labeled point's
cross-entropy 200 times its ELBO (pyro's M2 example uses 46); M2's q(y|x)
turns confident on unlabeled points within a few hundred steps at 100
(BUILD_NOTES, smoke run), hence the smaller candidates. Capped at 4000
steps with a patience of 6 evaluations.

Run:
  python -m experiments.sweep --config=configs/select_alpha_m2_mnist.py \
      --workdir=results/select_alpha_m2_mnist
"""

from configs import common
from configs import mnist_dense
from configs import semi_supervised_mnist

TITLE = ("alpha selection (MNIST, M2, 100 labels): validation accuracy")
ALPHAS = (1.0, 10.0, 100.0)


def get_config(arg: str = ""):
  quick = common.parse_arg(arg, __file__)
  base = mnist_dense.get_config()
  base.model.variant = "m2"
  base.model.latent_dim = semi_supervised_mnist.M2_LATENT_DIM
  base.train.num_steps = 4000
  base.train.patience = 6
  return common.alpha_selection_sweep(base, title=TITLE, alphas=ALPHAS,
                                      quick=quick)
