r"""Paper Table 12, dSprites, multi-head CNN (Table 16): betaVAE disentanglement
score of the plain VAE vs the semi-supervised VAE at 100, 1000 and 10000
labeled images, trained to convergence under the validation protocol.

Rows: the unsupervised sibling (0 labels) first, then semi_supervised with
100, 1000, 10000 labels (images drawn uniformly at random per seed, each with
all five factor classes). A semi_supervised row with 0 labels is left out:
without labels its heads get no gradient and, since the multi-head decoder
sees z only, it trains exactly like the unsupervised sibling.

Base: configs/dsprites_multihead.py (latent 10, alpha 10, beta 1, batch 64,
RMSprop without momentum), 3 seeds per cell, 4 cells, under the converged
protocol (configs/common.py: converged_protocol): a validation split of 10%
of the grid (4608 images) held out, a stop after 10 evaluations without a
better validation score, a cap of NUM_STEPS (31 epochs of the 41,472
training images). Two changes: every row selects each seed's state on
validation ELBO (train.select_metric="elbo"), not on the heads' accuracy,
since the table compares representations and the unsupervised row has no
heads; and evaluations come every EVAL_EVERY steps, not 250 (each is a pass
over validation and the test subset). Metric: beta_vae_score (eval accuracy of the
factor classifier, disentanglement_lib defaults: batch 64, 10000 train, 5000
eval points on the encoder mean of the selected state), the test ELBO and
the selected step beside it.

Run:
  python -m experiments.sweep --config=configs/table12_dsprites.py \
      --workdir=results/table12_dsprites
Quick (digits, tiny CNN, no betaVAE score since digits has no factor grid;
what tests run):
  python -m experiments.sweep --config=configs/table12_dsprites.py:quick \
      --workdir=/tmp/table12_quick
"""

from configs import common
from configs import dsprites_multihead

TITLE = ("Table 12 (dSprites, multi-head CNN): betaVAE disentanglement score "
         "vs labeled images")
LABEL_COUNTS = (100, 1000, 10000)
QUICK_LABEL_COUNTS = (10, 20)
NUM_STEPS = 20000  # a cap: the validation ELBO's early stop ends a run
EVAL_EVERY = 500
NUM_SEEDS = 3


def get_config(arg: str = ""):
  quick = common.parse_arg(arg, __file__)
  base = dsprites_multihead.get_config()
  common.converged_protocol(base.train, num_steps=NUM_STEPS)
  base.train.eval_every = EVAL_EVERY
  base.train.checkpoint_every = EVAL_EVERY
  base.train.select_metric = "elbo"
  if quick:  # tiny trains on digits, which are not a factor grid
    del base["beta_vae"]
  return common.table_sweep(
      title=TITLE, base=base, quick=quick,
      axes=(("model.variant", ("unsupervised",)),
            ("data.num_labels", (0,))),
      extra_grids=((("model.variant", ("semi_supervised",)),
                    ("data.num_labels",
                     QUICK_LABEL_COUNTS if quick else LABEL_COUNTS)),),
      num_seeds=NUM_SEEDS, quick_num_seeds=2,
      metrics=("beta_vae_score", "elbo"),
      plots_to_write=("beta_vae_vs_labels",))
