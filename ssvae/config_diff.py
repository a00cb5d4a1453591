"""Which fields of a run's saved config differ from a config given now.

A workdir (a run, or a sweep cell committed to the results ledger) is
resumed or skipped only when its saved config.json describes the same
experiment. Fields added to the config schema after a result was saved are
absent from its config.json; ADDED_FIELDS lists each with the value that
reproduces the behaviour from before it existed, so old results stay
valid, while any other value counts as a change.
"""

import os
from typing import Any

from flax import traverse_util

from ssvae import errors
from ssvae import io_utils

# field -> the value that behaves as the code did before the field existed.
ADDED_FIELDS = {
    "train.min_delta": 0.0,
    # The unlabeled-data options (decoder_y, entropy penalty, M2); defaults
    # are the paper's model.
    "model.decoder_y": "softmax",
    "model.gumbel_temperature": 1.0,
    "model.gumbel_temperature_min": 0.5,
    "model.gumbel_anneal_steps": 5000,
    "loss.unlabeled_entropy_weight": 0.0,
    "train.diagnostics": False,
    # The optimizer's recipe search; defaults are the fixed recipe.
    "optimizer.name": "rmsprop",
    "optimizer.schedule": "constant",
    "optimizer.warmup_steps": 0,
    "optimizer.decay_steps": 0,
    "data.labeled_fraction_of_batch": 0.5,
    # The official files' MD5 check; every result so far was
    # trained on the official files.
    "data.verify_checksums": True,
    # Train scalars once per chunk, as before train.log_every existed.
    "train.log_every": 0,
}


def flatten(config_dict: dict) -> dict:
  """{'train': {'num_steps': 5}} -> {'train.num_steps': 5}."""
  return traverse_util.flatten_dict(config_dict, sep=".")


def _normalized(value: Any) -> Any:
  return list(value) if isinstance(value, tuple) else value


def changed_fields(saved: dict, current: dict,
                   ignore: tuple = ()) -> list[str]:
  """Sorted dotted names of the fields whose values differ.

  saved, current: nested dicts (config JSON). A field missing from `saved`
  that ADDED_FIELDS lists is compared with its listed value.
  """
  old, new = flatten(saved), flatten(current)
  for field, value in ADDED_FIELDS.items():
    if field in new:
      old.setdefault(field, value)
  missing = object()
  return sorted(
      k for k in set(old) | set(new)
      if k not in ignore
      and _normalized(old.get(k, missing)) != _normalized(new.get(k, missing)))


def check_same_experiment(workdir: str, config, *, ignore: tuple = (),
                          what: str = "a run") -> None:
  """Raises WorkdirError when workdir/config.json holds another experiment.

  Fields in `ignore` may differ (e.g. the step cap of a resumed run). A
  workdir without config.json is new and passes.
  """
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    return
  changed = changed_fields(
      io_utils.read_json(path),
      io_utils.read_json_string(config.to_json_best_effort()), ignore=ignore)
  if changed:
    raise errors.WorkdirError(
        f"{workdir} holds {what} with a different config (fields "
        f"{', '.join(changed)}); use a new --workdir or restore those values.")
