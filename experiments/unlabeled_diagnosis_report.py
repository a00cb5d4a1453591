r"""Figure and numbers of the unlabeled-data diagnosis sweep
(configs/unlabeled_diagnosis_mnist.py).

Reads the cells of configs/unlabeled_diagnosis_mnist.py from the sweep's
workdir (finished or still running) and writes:
  --out_png: accuracy against step (validation solid, test dashed, selected
    steps marked) for the paper's model at each latent size, the supervised
    sibling, each remedy and M2; and the training diagnostics of
    ssvae.steps (entropy of q(y|x) on the unlabeled half, and the nats
    of unlabeled reconstruction that come through y and through z);
  --out_md: one row per cell with those quantities at the first and last
    logged step.

  python -m experiments.unlabeled_diagnosis_report \
      --workdir=results/unlabeled_diagnosis_mnist \
      --out_png=results/unlabeled_diagnosis.png \
      --out_md=results/unlabeled_diagnosis_numbers.md
"""

from absl import flags

from ssvae import cli
from ssvae import io_utils
from ssvae.sweep import plots
from ssvae.reports import unlabeled_report

_WORKDIR = flags.DEFINE_string("workdir", None, "The diagnosis sweep's "
                               "workdir (runs/<cell>/).")
_OUT_PNG = flags.DEFINE_string("out_png", None, "Figure path.")
_OUT_MD = flags.DEFINE_string("out_md", None, "Markdown table path.")
flags.mark_flags_as_required(["workdir", "out_png", "out_md"])


def main(_):
  plots.check_figure_path(_OUT_PNG.value, _OUT_PNG.name)
  cells = unlabeled_report.load_cells(_WORKDIR.value)
  plots.save_figure(unlabeled_report.figure(cells), _OUT_PNG.value)
  io_utils.atomic_write_text(_OUT_MD.value,
                             unlabeled_report.numbers_markdown(cells))
  print(f"Wrote {_OUT_PNG.value} and {_OUT_MD.value} ({len(cells)} cells)")


if __name__ == "__main__":
  cli.run(main)
