r"""The best cell of each group of a search sweep, chosen on validation.

  python -m experiments.pick_best --workdir=results/recipe_search \
      --by=variant,num_labels --metric=val_accuracy

Reads DIR/results.json (the sweep's ledger), writes DIR/picks.md and
DIR/picks.json (one entry per group: its axes, whether every cell of the group
finished, and the chosen cell) and prints the markdown. configs/common.py:
TUNED_RECIPES holds the recipes of the complete groups of
results/recipe_search.
"""

import dataclasses
import os

from absl import flags

from ssvae import cli
from ssvae import errors
from ssvae import io_utils
from ssvae.sweep import picks
from ssvae.sweep import ledger as ledger_lib

_WORKDIR = flags.DEFINE_string("workdir", None, "The sweep's workdir.")
_BY = flags.DEFINE_list("by", ["variant", "num_labels"],
                        "Axes whose values form the groups.")
_METRIC = flags.DEFINE_string("metric", "val_accuracy",
                              "Validation metric (val_*) to pick on.")
_SHOW = flags.DEFINE_list("show", ["accuracy", "log_loss"],
                          "Metrics shown beside the pick (not used for it).")
flags.mark_flags_as_required(["workdir"])


def main(argv):
  if len(argv) > 1:
    raise errors.UserInputError(f"Unexpected arguments: {argv[1:]}")
  ledger, path = ledger_lib.read_ledger(_WORKDIR.value)
  chosen = picks.pick_best(ledger, _BY.value, _METRIC.value, where=path)
  text = picks.picks_markdown(chosen, ledger, _METRIC.value, _SHOW.value)
  io_utils.atomic_write_text(os.path.join(_WORKDIR.value, "picks.md"), text)
  io_utils.write_json(os.path.join(_WORKDIR.value, "picks.json"), {
      "metric": _METRIC.value, "by": _BY.value,
      "picks": [{**dataclasses.asdict(p), "complete": p.complete}
                for p in chosen]})
  print(text, end="")


if __name__ == "__main__":
  cli.run(main)
