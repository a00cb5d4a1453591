r"""Paired difference of two values of one axis of a sweep, per seed.

  python -m experiments.paired_comparison \
      --workdir=results/table3_mnist_dense_tuned --axis=variant \
      --a=semi_supervised --b=supervised --metrics=val_accuracy,accuracy,log_loss

For each group (a value of every other axis, e.g. a label count): the
per-seed difference a - b (both cells train the same seeds on the same
labeled points), its mean ± sample std, the seeds a wins and the paired
t-test's p (ssvae/sweep/paired.py). Prints markdown, one table per metric;
--out_md writes it too.
"""

from absl import flags

from ssvae import cli
from ssvae import errors
from ssvae import io_utils
from ssvae.sweep import ledger as ledger_lib
from ssvae.sweep import paired

_WORKDIR = flags.DEFINE_string("workdir", None, "The sweep's workdir.")
_AXIS = flags.DEFINE_string("axis", "variant", "The axis compared.")
_A = flags.DEFINE_string("a", "semi_supervised", "Its value minuend.")
_B = flags.DEFINE_string("b", "supervised", "Its value subtrahend.")
_METRICS = flags.DEFINE_list("metrics", ["val_accuracy", "accuracy"],
                             "Metrics compared, one table each.")
_OUT_MD = flags.DEFINE_string("out_md", None, "Also write the markdown here.")
flags.mark_flags_as_required(["workdir"])


def main(argv):
  if len(argv) > 1:
    raise errors.UserInputError(f"Unexpected arguments: {argv[1:]}")
  ledger, path = ledger_lib.read_ledger(_WORKDIR.value)
  text = "\n".join(
      paired.paired_markdown(
          paired.paired_groups(ledger, _AXIS.value, _A.value, _B.value,
                               metric, where=path),
          _AXIS.value, _A.value, _B.value, path)
      for metric in _METRICS.value)
  if _OUT_MD.value:
    io_utils.atomic_write_text(_OUT_MD.value, text)
  print(text, end="")


if __name__ == "__main__":
  cli.run(main)
