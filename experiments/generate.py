r"""Class-conditional samples and latent traversals of a trained run.

  python -m experiments.generate --workdir=workdirs/mnist_dense \
      [--out=DIR] [--seed_index=0] [--num_per_class=10] [--state=last]

Rebuilds the run from --workdir (its config.json and last intact
checkpoint) and writes, for one of its seeds and the state --state names
(each seed's validation-selected state, or the last), the paper's figures
into --out (default WORKDIR/figures):
  * class_conditional_seed{S}.png (Figure 2): one row per class, columns
    decoded from shared prior samples z ~ N(0, I) with y = one_hot(class);
  * latent_traversal_class{C}_seed{S}.png (Figure 3), only when the latent
    space is 2-d: a grid over z in [-span, span]^2 decoded with class C.
Only semi_supervised models qualify: the unsupervised VAE has no class input
and the supervised sibling no decoder. It prints the paths it wrote, and
no INFO logs (orbax's restore lines) unless --verbosity is given.
"""

import os
from typing import Optional

from absl import flags

from ssvae import cli
from ssvae import errors
from ssvae.reports import generation

_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (config.json "
                               "and checkpoints/).")
_OUT = flags.DEFINE_string("out", None, "Output directory for the PNGs "
                           "(default: WORKDIR/figures).")
_SEED_INDEX = flags.DEFINE_integer("seed_index", 0, "Which of the run's "
                                   "seeds (0..num_seeds-1) to draw from.")
_NUM_PER_CLASS = flags.DEFINE_integer("num_per_class", 10,
                                      "Samples (columns) per class.")
_TRAVERSAL_CLASSES = flags.DEFINE_list(
    "traversal_classes", None, "Classes to draw latent traversals for "
    "(default: all); ignored unless the latent space is 2-d.")
_GRID_SIZE = flags.DEFINE_integer("grid_size", 15, "Traversal grid side.")
_SPAN = flags.DEFINE_float("span", 2.0, "Traversal covers [-span, span]^2.")
_SAMPLE_SEED = flags.DEFINE_integer("sample_seed", 0,
                                    "PRNG seed of the prior samples.")
_STATE = flags.DEFINE_enum(
    "state", "selected", list(generation.STATES), "Which state of the run "
    "draws: each seed's validation-selected state, or the last.")
flags.mark_flags_as_required(["workdir"])


def _traversal_classes() -> Optional[list[int]]:
  if _TRAVERSAL_CLASSES.value is None:
    return None
  try:
    return [int(c) for c in _TRAVERSAL_CLASSES.value]
  except ValueError:
    raise errors.UserInputError(
        f"--traversal_classes must be integers, got "
        f"{_TRAVERSAL_CLASSES.value}.") from None


def _check_flags() -> None:
  """Refuses bad flags before the run is loaded (writes nothing)."""
  for holder in (_NUM_PER_CLASS, _GRID_SIZE):
    if holder.value < 1:
      raise errors.UserInputError(
          f"--{holder.name}={holder.value}: must be a positive number of "
          "images.")
  if not _SPAN.value > 0:
    raise errors.UserInputError(f"--span={_SPAN.value}: must be > 0.")
  out = _OUT.value
  if out and os.path.exists(out) and not os.path.isdir(out):
    raise errors.UserInputError(
        f"--out={out} is an existing file; --out names the directory the "
        "PNGs are written into (it is created if missing).")


def main(_):
  cli.quiet_info_logs()
  _check_flags()
  paths = generation.write_generation_figures(
      _WORKDIR.value, _OUT.value, state=_STATE.value,
      seed_index=_SEED_INDEX.value,
      num_per_class=_NUM_PER_CLASS.value,
      traversal_classes=_traversal_classes(), grid_size=_GRID_SIZE.value,
      span=_SPAN.value, sample_seed=_SAMPLE_SEED.value)
  for path in paths:
    print(path)


if __name__ == "__main__":
  cli.run(main)
