"""A run's directory: its files, its lock, resuming it and loading it.

  WORKDIR/config.json     the config (CONFIG_FILE), written when training
                          starts and compared when it resumes
  WORKDIR/metrics.jsonl   one record per seed per split per log/eval step
  WORKDIR/results.json    the final metrics (RESULTS_FILE), once finished
  WORKDIR/tensorboard/    TensorBoard event files, seed_<s>/<split>
  WORKDIR/checkpoints/    orbax checkpoints (ssvae.checkpointing)

`resume` readies a workdir to train: `accept` checks, changing nothing,
that it can continue under a config; `ready` then sets damaged checkpoints
aside, drops metrics past the resumed step and writes config.json; the
newest intact checkpoint is restored. `metrics_writer` continues its
curves. `load(workdir, which)` rebuilds a finished (or stopped) run for
readers: generation, the detector, reports.
"""

import os
import re
from typing import Optional

from absl import logging
import jax
import ml_collections
import numpy as np

from ssvae import checkpointing
from ssvae import config_diff
from ssvae import config_validation
from ssvae import errors
from ssvae import experiment as experiment_lib
from ssvae import io_utils
from ssvae import selection as selection_lib
from ssvae import sharding
from ssvae import steps
from ssvae import workdir as workdir_lib

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
RESULTS_FILE = "results.json"

# TensorBoard event files, beside metrics.jsonl: tensorboard/seed_<s>/<split>.
TENSORBOARD_DIR = "tensorboard"

# Fields that may change between a run and its resumption.
RESUMABLE_FIELDS = ("train.num_steps", "train.patience", "train.min_delta",
                     "train.eval_every", "train.log_every",
                     "train.checkpoint_every", "train.steps_per_call",
                     "train.scan_unroll", "train.eval_batch_size")


def check_same_experiment(workdir: str, config) -> None:
  """Refuses to resume a workdir that was started with a different config."""
  config_diff.check_same_experiment(workdir, config, ignore=RESUMABLE_FIELDS)


def check_num_steps(step: Optional[int], config, workdir: str) -> None:
  """Refuses a num_steps below the step the workdir's run already reached."""
  num_steps = config.train.num_steps
  if step and step > num_steps:
    raise errors.WorkdirError(
        f"{workdir} holds a run at step {step}, past config.train.num_steps="
        f"{num_steps}; set num_steps >= {step} to continue it, or use a new "
        "--workdir.")


def check_can_resume(config, workdir: str) -> None:
  """Raises WorkdirError where train(config, workdir) would refuse workdir.

  Reads only: for checking many runs (a sweep's cells) before any trains.
  """
  check_same_experiment(workdir, config)
  check_num_steps(max(checkpointing.saved_steps(workdir), default=None),
                   config, workdir)


def metrics_to_keep(path: str, last_step: int) -> list[str]:
  """Lines of metrics.jsonl up to last_step; a torn last line is dropped
  (see io_utils.read_records)."""
  return [line + "\n" for line, record in io_utils.read_records(path)
          if record["step"] <= last_step]


def truncate_metrics(path: str, last_step: int) -> None:
  """Drops records a killed run wrote after its last checkpoint (or torn)."""
  if os.path.exists(path):
    io_utils.atomic_write_text(path, "".join(metrics_to_keep(path,
                                                              last_step)))


def checkpoint_tree(
    exp: experiment_lib.Experiment,
    state: Optional[steps.TrainState] = None) -> dict:
  """What a checkpoint holds: train state, selection, elapsed time.

  state: the seed-stacked state to start from; default a fresh init.
  """
  if state is None:
    state = experiment_lib.init_train_state(exp)
  else:
    state = sharding.put(state, sharding.per_seed(exp.mesh))
  return {"state": state,
          "selection": sharding.put(selection_lib.init(state),
                                      sharding.per_seed(exp.mesh)),
          "clock": {"wall_s": np.float64(0), "cpu_s": np.float64(0)}}


def damage_summary(damaged: dict) -> str:
  return "; ".join(f"step {step}: {why}" for step, why in damaged.items())


def accept(config, workdir: str, ckpt: checkpointing.Checkpointer,
                    like: dict) -> tuple[Optional[int], dict]:
  """Checks that workdir's run can continue under config; changes nothing.

  Returns (step to resume from or None, {damaged newer step: why}). Refuses
  (WorkdirError) a different config, checkpoints of another model, a
  num_steps below the run's step, and a workdir whose checkpoints are all
  damaged.
  """
  check_same_experiment(workdir, config)
  step, damaged = ckpt.newest_intact_step(like)
  if damaged and step is None:
    raise errors.WorkdirError(
        f"every checkpoint in {ckpt.directory} is damaged ("
        f"{damage_summary(damaged)}); move that directory away to train "
        "from scratch.")
  check_num_steps(step, config, workdir)
  return step, damaged


def ready(config, workdir: str, ckpt: checkpointing.Checkpointer,
                   start: Optional[int], damaged: dict) -> None:
  """After acceptance: sets damaged checkpoints aside, removes unfinished
  saves, drops metrics past the resumed step and writes config.json."""
  for (step, why), moved_to in zip(damaged.items(), ckpt.set_aside(damaged)):
    logging.warning("Checkpoint step %d in %s is damaged (%s); resuming from "
                    "step %d instead. Moved step %d to %s.", step,
                    ckpt.directory, why, start, step, moved_to)
  for path in ckpt.remove_unfinished_saves():
    logging.info("Removed %s, an unfinished save of a stopped run.", path)
  truncate_metrics(os.path.join(workdir, METRICS_FILE), start or 0)
  io_utils.atomic_write_text(os.path.join(workdir, CONFIG_FILE),
                             config.to_json_best_effort(indent=2) + "\n")


def resume(exp: experiment_lib.Experiment, workdir: str,
           ckpt: checkpointing.Checkpointer,
           init_state: Optional[steps.TrainState] = None
           ) -> tuple[int, dict]:
  """Readies a claimed workdir to train `exp`: accept, then (on the process
  that writes) ready, then the newest intact checkpoint restored.

  Returns (step to start from, 0 for a fresh run; the checkpoint tree:
  state, selection, clock), fresh from `init_state` (default: a new
  initialization) when the workdir has no checkpoint.
  """
  tree = checkpoint_tree(exp, init_state)
  start, damaged = accept(exp.config, workdir, ckpt, tree)
  if jax.process_index() == 0:
    ready(exp.config, workdir, ckpt, start, damaged)
  if not start:
    return 0, tree
  logging.info("Resuming %s from step %d.", workdir, start)
  return start, ckpt.restore(start, like=tree)


def metrics_writer(workdir: str, start: int) -> io_utils.MetricsWriter:
  """The run's metrics.jsonl and TensorBoard writer, opened to continue
  after step `start` (TensorBoard drops its events from start + 1 on, which
  a resumed run rewrites); a sink on processes that do not write."""
  if jax.process_index() != 0:
    return io_utils.MetricsWriter(os.devnull)
  return io_utils.MetricsWriter(
      os.path.join(workdir, METRICS_FILE),
      os.path.join(workdir, TENSORBOARD_DIR),
      purge_step=start + 1 if start else None)


def claimed(workdir: str):
  """The workdir, created and locked (by the one process that writes)."""
  return workdir_lib.claimed(workdir, lock=jax.process_index() == 0)


def load(workdir: str, devices=None,
             which: str = "selected"
             ) -> tuple[experiment_lib.Experiment, steps.TrainState]:
  """Rebuilds a run from its workdir: saved config plus last intact checkpoint.

  which: 'selected' (each seed's validation-selected state) or 'last'.
  Reads only; a damaged newer checkpoint is skipped with a warning.
  """
  if which not in ("selected", "last"):
    raise ValueError(f"which must be 'selected' or 'last', got {which!r}.")
  exp = experiment_lib.build_experiment(load_config(workdir), devices)
  return exp, restore_state(exp, workdir, which)


def load_config(workdir: str) -> ml_collections.ConfigDict:
  """The config.json a run saved, with its sequence fields as tuples."""
  path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.exists(path):
    raise errors.RunNotFoundError(
        f"{path} not found: is {workdir} a run directory?")
  saved = io_utils.read_json(path)
  sections = ("data", "model", "loss", "optimizer", "train")
  if not (isinstance(saved, dict)
          and all(isinstance(saved.get(s), dict) for s in sections)):
    raise errors.WorkdirError(
        f"{path} is not a run's config (an object with the sections "
        f"{', '.join(sections)}); restore it, or retrain into a new workdir.")
  config = ml_collections.ConfigDict(saved)
  for field in ("hidden_sizes", "conv_channels", "conv_strides",
                "decoder_channels"):
    if isinstance(config.model.get(field), list):
      config.model[field] = tuple(config.model[field])
  try:
    config_validation.validate(config)
  except errors.ConfigError as e:
    raise errors.WorkdirError(f"{path}: {e} Fix or restore it.") from e
  except (AttributeError, KeyError, TypeError) as e:
    missing = (None if isinstance(e, TypeError)
               else re.search(r"'(\w+)'", str(e)))
    what = (f"lacks the field {missing.group(1)!r}" if missing
            else f"has a field of the wrong type ({e})")
    raise errors.WorkdirError(f"{path} {what}; fix or restore it.") from e
  return config


def restore_state(exp: experiment_lib.Experiment, workdir: str,
                  which: str = "selected") -> steps.TrainState:
  """The seed-stacked state in workdir's last intact checkpoint, for `exp`.

  which: 'selected' (each seed's validation-selected state) or 'last'.
  Reads only; a damaged newer checkpoint is skipped with a warning.
  """
  if which not in ("selected", "last"):
    raise ValueError(f"which must be 'selected' or 'last', got {which!r}.")
  like = checkpoint_tree(exp)
  ckpt = checkpointing.Checkpointer(workdir, read_only=True)
  try:
    step, damaged = ckpt.newest_intact_step(like)
    if step is None:
      raise errors.RunNotFoundError(
          f"No intact checkpoint in {ckpt.directory}"
          + (f" ({damage_summary(damaged)})." if damaged else "."))
    for bad, why in damaged.items():
      logging.warning("Checkpoint step %d in %s is damaged (%s); using step "
                      "%d instead.", bad, ckpt.directory, why, step)
    tree = ckpt.restore(step, like=like)
  finally:
    ckpt.close()
  state = tree["state"]
  if (which == "selected" and exp.dataset.validation is not None
      and selection_lib.resolve_metric(exp.config) != selection_lib.LAST):
    state = selection_lib.selected_state(state, tree["selection"])
  return state
