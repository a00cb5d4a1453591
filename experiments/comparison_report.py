r"""The comparison tables of the unlabeled-data study: a sweep ledger as rows x
label counts.

Reads DIR/results.json of configs/semi_supervised_mnist.py (or the
Fashion-MNIST one) and writes one markdown table of test accuracy of the
validation-selected state (mean ± std over seeds; pending cells marked),
with the validation accuracy beside it and, with --quoted, reference rows
quoted from elsewhere (ssvae/reports/unlabeled_report.py QUOTED: a paper's
figures, or a figure whose recipe is unknown, saying so), marked as quoted.
--also=DIR=SUFFIX adds the rows of another sweep over the same label counts
(e.g. the tuned-recipe Table 3), each row named with the suffix.

  python -m experiments.comparison_report \
      --workdir=results/semi_supervised_mnist \
      --also="results/table3_mnist_dense_tuned=tuned recipe" \
      --out_md=results/semi_supervised_mnist.md --quoted=kingma_mnist,pyro_mnist
"""


from absl import flags

from ssvae import cli
from ssvae import errors
from ssvae import io_utils
from ssvae.sweep import ledger as ledger_lib
from ssvae.reports import unlabeled_report

_WORKDIR = flags.DEFINE_string("workdir", None, "The sweep's workdir.")
_OUT_MD = flags.DEFINE_string("out_md", None, "Markdown table path.")
_QUOTED = flags.DEFINE_list(
    "quoted", [], "Quoted reference rows to add, comma-separated, in this "
    f"order; of {sorted(unlabeled_report.QUOTED)}.")
_ALSO = flags.DEFINE_multi_string(
    "also", [], "DIR=SUFFIX: the rows of another sweep's ledger, each row "
    "named '<row>, SUFFIX' (repeatable).")
flags.mark_flags_as_required(["workdir", "out_md"])


def main(argv):
  if len(argv) > 1:
    raise errors.UserInputError(f"Unexpected arguments: {argv[1:]}")
  unknown = sorted(set(_QUOTED.value) - set(unlabeled_report.QUOTED))
  if unknown:
    raise errors.UserInputError(
        f"--quoted: {unknown} not among the quoted sources "
        f"{sorted(unlabeled_report.QUOTED)}.")
  extra = []
  for spec in _ALSO.value:
    directory, sep, suffix = spec.partition("=")
    if not sep or not directory or not suffix:
      raise errors.UserInputError(
          f"--also={spec!r}: give DIR=SUFFIX, e.g. "
          "'results/table3_mnist_dense_tuned=tuned recipe'.")
    extra.append((*ledger_lib.read_ledger(directory), suffix))
  ledger, path = ledger_lib.read_ledger(_WORKDIR.value)
  text = unlabeled_report.comparison_markdown(ledger, path, _QUOTED.value,
                                              extra)
  io_utils.atomic_write_text(_OUT_MD.value, text)
  print(f"Wrote {_OUT_MD.value}")


if __name__ == "__main__":
  cli.run(main)
