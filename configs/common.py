"""Builders shared by the sweep configs (no jax import, as in big_vision)."""

from ssvae import sweep


def alpha_selection_sweep(base, *, title: str, alphas: tuple, quick: bool,
                          num_seeds: int = 2):
  """A sweep over loss.alpha whose table reports validation accuracy.

  The alpha with the best `val_accuracy` (validation accuracy of each seed's
  selected state) is the one to use; test accuracy is shown beside it but
  plays no part in the choice.
  """
  if quick:
    base = sweep.quick_base(base, keep_data=base.data.name == "uci_har")
  return sweep.new_sweep_config(
      title=title + (" [quick]" if quick else ""),
      base=base,
      axes=(("loss.alpha", alphas),),
      num_seeds=num_seeds,
      metrics=("val_accuracy", "accuracy"))
