"""What the configs share; no jax import (as big_vision's configs/common.py).

- `parse_arg`: the `:quick` config argument (`--config=configs/X.py:quick`).
- `titled`: a title, marked '[quick]' for the quick variant.
- `tiny`: the one tiny-config recipe, what quick variants and tests train.
- `converged_protocol`: validation-selected training with early stopping.
- `unrolled_chunks`: how the convolutional models train fastest on CPU.
- `fashion_mnist`: an MNIST experiment config on Fashion-MNIST.
- `table_sweep`: the sweep config a table's file returns (fields described
  in ssvae/sweep/__init__.py), with its quick variant.
- `fashion_version`: Tables 7-9, the MNIST Tables 3-5 on Fashion-MNIST.
- `alpha_selection_sweep`: a table that picks loss.alpha on validation.
- `TUNED_RECIPES`, `tuned_recipe_overrides`: each variant's optimizer recipe,
  picked on validation by configs/recipe_search.py.
"""

import re
from typing import Optional

import ml_collections

QUICK = "quick"
QUICK_SUFFIX = " [quick]"
# The IDX data sets whose quick variants read a tiny synthetic set of their
# own, in the official format (data.source='synthetic'): they exercise the
# table's data path, not a stand-in's.
FASHION_MNIST = "fashion_mnist"
SYNTHETIC_QUICK_DATA = (FASHION_MNIST,)


class ConfigArgError(ValueError):
  """A config file's argument is not one it takes (`:quik`).

  The error boundary (ssvae/cli.py) reports it as one line, as it does
  ssvae.errors.UserInputError, which cannot be imported here without jax.
  """
  user_input = True


def parse_arg(arg: Optional[str], source: str) -> bool:
  """True for the quick variant ("quick"), False for the full one ("")."""
  if arg in (None, ""):
    return False
  if arg == QUICK:
    return True
  raise ConfigArgError(
      f"{source}: unknown config parameter {arg!r}; use no parameter (the "
      f"full sweep) or ':{QUICK}'.")


def titled(title: str, quick: bool) -> str:
  return title + QUICK_SUFFIX if quick else title


def tiny(base: ml_collections.ConfigDict, *, keep_data: bool = False,
         **train) -> ml_collections.ConfigDict:
  """`base` made tiny: trains in seconds (quick variants and tests).

  Image data become scikit-learn's embedded 8x8 digits (MNIST's stand-in),
  or for SYNTHETIC_QUICK_DATA a tiny synthetic set of the same data set read
  through its own IDX reader; keep_data keeps the data as they are (e.g. UCI
  HAR, whose data_dir the caller then passes). train: fields of
  config.train set instead of the recipe's (e.g. a longer run).
  """
  if not keep_data:
    if base.data.name in SYNTHETIC_QUICK_DATA:
      base.data.source = "synthetic"
      base.data.validation_size = 30
    else:
      base.data.name = "digits"
      base.data.source = "auto"
    base.data.data_dir = ""
  family = base.model.family
  base.model.hidden_sizes = (8, 8, 8) if family == "rnn" else (16,)
  if family in ("cnn", "multihead_cnn"):
    base.model.conv_channels = (4, 4, 4)
  if family == "multihead_cnn":  # one decoder layer fewer than the encoder
    base.model.decoder_channels = (4, 4)
  # The recipe's training, updated by the caller's fields.
  base.train.update(dict(batch_size=16, num_steps=10, steps_per_call=5,
                         eval_every=10, checkpoint_every=5,
                         eval_batch_size=500), **train)
  return base


def converged_protocol(train: ml_collections.ConfigDict, *,
                       num_steps: int) -> None:
  """Sets config.train to the converged protocol (BUILD_NOTES, "The
  converged protocol"): an evaluation on validation every 250 steps, each
  seed's best state reported, a stop after 10 evaluations without
  improvement; num_steps is only a cap."""
  train.num_steps = num_steps
  train.patience = 10
  train.eval_every = 250


def unrolled_chunks(train: ml_collections.ConfigDict) -> None:
  """Sets config.train to what the convolutional models train fastest with
  on CPU: chunks of 4 steps, fully unrolled.

  Convolutions in a lax.scan loop are slow on XLA:CPU (jax-ml/jax#12868),
  and unrolled chunks of 4 ran fastest of 1, 2, 4, 5 and 10
  (benchmarks/train_step.py --family=cnn --chunks=..., BUILD_NOTES "CNN
  speed"; the multi-head CNN measured with --family=multihead_cnn).
  """
  train.steps_per_call = 4
  train.scan_unroll = True


def fashion_mnist(config: ml_collections.ConfigDict
                  ) -> ml_collections.ConfigDict:
  """An MNIST experiment config on Fashion-MNIST: the same model and
  protocol, the data set swapped (its quick variants read a tiny synthetic
  Fashion-MNIST, `tiny`)."""
  config.data.name = FASHION_MNIST
  return config


def new_sweep_config(*, title: str, base: ml_collections.ConfigDict,
                     axes: tuple, metrics: tuple, num_seeds: int = 5,
                     extra_grids: tuple = (), cell_overrides: tuple = (),
                     plots_to_write: tuple = (),
                     on_diverged: str = "stop") -> ml_collections.ConfigDict:
  """A sweep config with every field ssvae/sweep/__init__.py describes."""
  config = ml_collections.ConfigDict()
  config.title = title
  config.base = base
  config.axes = tuple(axes)
  config.extra_grids = tuple(extra_grids)
  config.cell_overrides = tuple(cell_overrides)
  config.num_seeds = num_seeds
  config.metrics = tuple(metrics)
  config.plots = tuple(plots_to_write)
  config.on_diverged = on_diverged
  return config


def table_sweep(*, title: str, base: ml_collections.ConfigDict, quick: bool,
                keep_data: bool = False, quick_num_seeds: Optional[int] = None,
                **fields) -> ml_collections.ConfigDict:
  """A table's sweep config; quick: on `tiny(base)`, titled '... [quick]'.

  fields: the other arguments of new_sweep_config. quick_num_seeds, if
  given, replaces num_seeds in the quick variant.
  """
  if quick:
    base = tiny(base, keep_data=keep_data)
    if quick_num_seeds is not None:
      fields["num_seeds"] = quick_num_seeds
  return new_sweep_config(title=titled(title, quick), base=base, **fields)


def fashion_version(twin, number: int, arg: Optional[str], source: str, *,
                    base=None, sweep=None) -> ml_collections.ConfigDict:
  """Paper Table `number` (7-9): the MNIST table `twin` on Fashion-MNIST.

  twin: an MNIST table's module (configs/table3-5_mnist_dense.py) with
  TITLE ('Table N (MNIST, ...'), BASE (its base config's module) and
  sweep(base, title, quick). The same grid, seeds and training length, on
  `fashion_mnist(BASE.get_config())` (configs/fashion_mnist_dense.py says
  where the data are found); titled 'Table <number> (Fashion-MNIST, ...'.
  The quick variant reads a tiny synthetic Fashion-MNIST in the official
  IDX format through the Fashion-MNIST loader (`tiny`). arg, source: as
  parse_arg's. base (a function giving the base config) and sweep replace
  the twin's BASE.get_config and sweep, e.g. for a table's CNN rows, which
  share the dense rows' grid.
  """
  quick = parse_arg(arg, source)
  title, found = re.subn(r"^Table \d+ \(MNIST,",
                         f"Table {number} (Fashion-MNIST,", twin.TITLE)
  if not found:
    raise ValueError(f"{twin.__name__}.TITLE is not an MNIST table's: "
                     f"{twin.TITLE!r}")
  base = base or twin.BASE.get_config
  return (sweep or twin.sweep)(fashion_mnist(base()), title, quick)


def alpha_selection_sweep(base, *, title: str, alphas: tuple, quick: bool,
                          num_seeds: int = 2):
  """A sweep over loss.alpha whose table reports validation accuracy.

  The alpha with the best `val_accuracy` (validation accuracy of each seed's
  selected state) is the one to use; test accuracy is shown beside it but
  plays no part in the choice.
  """
  return table_sweep(
      title=title, base=base, quick=quick,
      keep_data=base.data.name == "uci_har",
      axes=(("loss.alpha", alphas),),
      num_seeds=num_seeds,
      metrics=("val_accuracy", "accuracy"))


# The optimizer recipe of each (variant, data.num_labels), picked on
# validation accuracy by configs/recipe_search.py (results/recipe_search/
# picks.md, written by `python -m experiments.pick_best
# --workdir=results/recipe_search`). Only groups whose every cell finished
# are here; tests/recipe_picks_test.py checks each entry against the
# committed ledger, so an entry can neither be guessed nor go stale.
TUNED_RECIPES = {
    ("semi_supervised", 100): {
        "optimizer.name": "adam", "optimizer.decay": 0.999,
        "optimizer.momentum": 0.9, "optimizer.learning_rate": 1e-4},
    ("supervised", 100): {
        "optimizer.name": "rmsprop", "optimizer.decay": 0.9,
        "optimizer.momentum": 0.0, "optimizer.learning_rate": 1e-3},
    ("semi_supervised", -1): {
        "optimizer.name": "adam", "optimizer.decay": 0.999,
        "optimizer.momentum": 0.9, "optimizer.learning_rate": 1e-3},
    ("supervised", -1): {
        "optimizer.name": "adam", "optimizer.decay": 0.999,
        "optimizer.momentum": 0.9, "optimizer.learning_rate": 1e-3},
}


def tuned_recipe_overrides(variants: tuple, num_labels: int) -> tuple:
  """cell_overrides giving each variant its tuned recipe at num_labels;
  raises KeyError naming a variant whose search is not complete."""
  missing = [v for v in variants if (v, num_labels) not in TUNED_RECIPES]
  if missing:
    raise KeyError(f"no tuned recipe yet for {missing} at num_labels="
                   f"{num_labels}: finish configs/recipe_search.py first")
  return tuple(({"variant": v}, dict(TUNED_RECIPES[(v, num_labels)]))
               for v in variants)


def _recipe_words(recipe: dict) -> str:
  return (f"{recipe['optimizer.name']} decay {recipe['optimizer.decay']:g} "
          f"momentum {recipe['optimizer.momentum']:g} learning rate "
          f"{recipe['optimizer.learning_rate']:g}")


def tuned_version(table, *, recipe_labels: int, quick: bool,
                  variants: tuple = ("semi_supervised", "supervised")):
  """A table's sweep with each variant at its TUNED_RECIPES recipe at
  `recipe_labels` labels (every label count of the table uses it), the
  recipes named in the title. The quick variant keeps the base recipe (a
  test of the plumbing, not of the picks). Raises ConfigArgError naming the
  missing picks until the recipe search has them."""
  if quick:
    return table
  missing = [v for v in variants if (v, recipe_labels) not in TUNED_RECIPES]
  if missing:
    raise ConfigArgError(
        f"no tuned recipe yet for {missing} at num_labels={recipe_labels} "
        "(configs/common.py: TUNED_RECIPES): finish configs/recipe_search.py "
        "for them first.")
  table.cell_overrides = tuple(table.cell_overrides) + tuned_recipe_overrides(
      variants, recipe_labels)
  table.title += ", tuned recipes (" + "; ".join(
      f"{v}: {_recipe_words(TUNED_RECIPES[(v, recipe_labels)])}"
      for v in variants) + ")"
  return table
