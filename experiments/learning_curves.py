r"""Plots a metric against the training step for one or more run directories.

  python -m experiments.learning_curves --metric=accuracy \
      --run_dir='results/table3_mnist_dense/runs/variant=semi_supervised,num_labels=100' \
      --label=semi-supervised \
      --run_dir='results/table3_mnist_dense/runs/variant=supervised,num_labels=100' \
      --label=supervised --out=results/table3_learning_curves.png

Validation curves are solid, test dashed (mean over seeds, ±1 std band);
triangles mark each seed's selected step.
"""

from absl import flags

from ssvae import cli
from ssvae import errors
from ssvae.reports import curves
from ssvae.sweep import plots

_RUN_DIRS = flags.DEFINE_multi_string("run_dir", None,
                                      "Run directory (repeatable).")
_LABELS = flags.DEFINE_multi_string(
    "label", [], "Legend label of each --run_dir, in order (default: the "
    "directory's name).")
_METRIC = flags.DEFINE_string("metric", "accuracy", "Metric to plot.")
_OUT = flags.DEFINE_string("out", None, "Output figure (.png, .pdf, ...).")
_TITLE = flags.DEFINE_string("title", "", "Figure title.")
flags.mark_flags_as_required(["run_dir", "out"])


def main(_):
  plots.check_figure_path(_OUT.value, _OUT.name)
  dirs, labels = _RUN_DIRS.value, _LABELS.value
  if labels and len(labels) != len(dirs):
    raise errors.UserInputError(
        f"Got {len(labels)} --label for {len(dirs)} --run_dir; give one per "
        "run or none.")
  curves.write_learning_curves(dirs, labels or [""] * len(dirs),
                               _METRIC.value, _OUT.value, _TITLE.value)
  print(f"Wrote {_OUT.value}")


if __name__ == "__main__":
  cli.run(main)
