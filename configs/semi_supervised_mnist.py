r"""Issue 9's comparison: does the unlabeled data help the classifier?

MNIST, dense model (configs/mnist_dense.py, its converged protocol:
validation-selected, early stopping), 3 seeds per cell, at 100, 600, 1000
and 3000 class-balanced labels. Rows:
  - supervised: the labeled-only sibling;
  - semi_supervised: the paper's model (latent 2);
  - semi_supervised + REMEDY: the paper's model with the remedy chosen on
    validation accuracy by configs/unlabeled_diagnosis_mnist.py;
  - m2: Kingma et al.'s M2 (latent M2_LATENT_DIM) on the same splits.
Pyro's M2 figures (0.932 / 0.944 / 0.949 / 0.958 at 100 / 600 / 1000 / 3000
labels) are quoted, not run, in the write-up.

REMEDY and M2_LATENT_DIM are placeholders until the diagnosis sweep has run:
the entropy penalty at latent 10 (what the issue saw help) and M2 at latent
50 (Kingma et al.'s and pyro's size). Choose them on val_accuracy only.

Run:
  python -m experiments.sweep --config=configs/semi_supervised_mnist.py \
      --workdir=results/semi_supervised_mnist
Quick (8x8 digits, tiny model, 10 steps, 2 seeds, 100 labels; what tests
run):
  python -m experiments.sweep --config=configs/semi_supervised_mnist.py:quick \
      --workdir=/tmp/semi_supervised_quick
"""

from configs import mnist_dense
from ssvae import sweep

TITLE = ("Semi-supervised MNIST (dense): supervised sibling, the paper's "
         "model, the paper's model + remedy, M2")
LABEL_COUNTS = (100, 600, 1000, 3000)
QUICK_LABEL_COUNTS = (100,)
# (path, value) pairs that make the paper's model the remedied one.
REMEDY = (("model.latent_dim", 10), ("loss.unlabeled_entropy_weight", 20.0))
M2_LATENT_DIM = 50


def comparison_sweep(base, title: str, label_counts: tuple, quick: bool):
  """The four rows at `label_counts`; shared with the Fashion-MNIST config."""
  if quick:
    base = sweep.quick_base(base)
    label_counts = QUICK_LABEL_COUNTS
  counts = ("data.num_labels", label_counts)
  return sweep.new_sweep_config(
      title=title + (" [quick]" if quick else ""),
      base=base,
      axes=(("model.variant", ("supervised", "semi_supervised", "m2")),
            counts),
      extra_grids=((("model.variant", ("semi_supervised",)),
                    *((path, (value,)) for path, value in REMEDY),
                    counts),),
      cell_overrides=(({"variant": "m2"},
                       {"model.latent_dim": M2_LATENT_DIM}),),
      num_seeds=2 if quick else 3,
      metrics=("accuracy", "val_accuracy", "log_loss"),
      plots_to_write=("accuracy_vs_labels",))


def get_config(arg: str = ""):
  quick = sweep.parse_config_arg(arg, __file__)
  return comparison_sweep(mnist_dense.get_config(), TITLE, LABEL_COUNTS,
                          quick)
