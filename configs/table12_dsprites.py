r"""Paper Table 12, dSprites, multi-head CNN (Table 16): betaVAE disentanglement
score of the plain VAE vs the semi-supervised VAE at 100, 1000 and 10000
labeled images.

Rows: the unsupervised sibling (0 labels) first, then semi_supervised with
100, 1000, 10000 labels (images drawn uniformly at random per seed, each with
all five factor classes). A semi_supervised row with 0 labels is left out:
without labels its heads get no gradient and, since the multi-head decoder
sees z only, it trains exactly like the unsupervised sibling.

Base: configs/dsprites_multihead.py (latent 10, alpha 10, beta 1, batch 64,
400 steps: a CPU budget, see its docstring; the paper trains far longer),
5 seeds per cell, 4 cells. Metric: beta_vae_score (eval accuracy of the
factor classifier, disentanglement_lib defaults: batch 64, 10000 train, 5000
eval points on the encoder mean), and the test ELBO for context. Cost per
cell on the idle 2-core dev machine: ~2.2 s per step for 5 seeds (~15 min
for 400 steps), plus ~3 min of betaVAE scoring and ~1 min of test passes.

Run:
  python -m experiments.sweep --config=configs/table12_dsprites.py \
      --workdir=workdirs/table12_dsprites
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


def get_config(arg: str = ""):
  quick = common.parse_arg(arg, __file__)
  base = dsprites_multihead.get_config()
  if quick:  # tiny trains on digits, which are not a factor grid
    del base["beta_vae"]
  return common.table_sweep(
      title=TITLE, base=base, quick=quick,
      axes=(("model.variant", ("unsupervised",)),
            ("data.num_labels", (0,))),
      extra_grids=((("model.variant", ("semi_supervised",)),
                    ("data.num_labels",
                     QUICK_LABEL_COUNTS if quick else LABEL_COUNTS)),),
      num_seeds=5, quick_num_seeds=2,
      metrics=("beta_vae_score", "elbo"),
      plots_to_write=("beta_vae_vs_labels",))
