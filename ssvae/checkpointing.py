"""Orbax checkpoints of the training state, with automatic resume.

Saves are asynchronous; orbax writes each one to a temporary directory and
renames it when complete, so a killed run never leaves a half checkpoint.

A checkpoint damaged later (a deleted or truncated file) is found before it
is restored: `newest_intact_step` reads every array of a step synchronously
with tensorstore, newest step first, and reports the damaged ones, so the
caller can fall back to the previous step. Orbax's own (asynchronous)
restore of a damaged or mismatched checkpoint fails with dozens of
tracebacks from its threads, so it only ever sees steps that passed.
"""

import json
import os
import shutil
from typing import Any, Optional

import jax
import numpy as np
import orbax.checkpoint as ocp
import tensorstore as ts

from ssvae import errors

CHECKPOINTS_DIR = "checkpoints"
# Damaged steps are moved here (out of orbax's sight), never deleted.
DAMAGED_DIR = "damaged_checkpoints"
# Orbax's layout: <step>/<item>/ holds an OCDBT database of zarr arrays named
# by the pytree path joined with "." and the tree metadata in _METADATA.
_ITEM = "default"
_TREE_METADATA = "_METADATA"
_TMP_MARK = ".orbax-checkpoint-tmp"


# tensorstore's status codes for data that are gone or corrupt (a deleted,
# truncated or overwritten file; see _is_damage).
_DAMAGE_CODES = ("NOT_FOUND", "OUT_OF_RANGE", "DATA_LOSS")
_MANIFEST = "manifest.ocdbt"


class CheckpointMismatch(errors.WorkdirError):
  """An intact checkpoint holds other arrays than the config's state."""


class CheckpointUnreadable(errors.WorkdirError):
  """A checkpoint whose files are all there could not be read: not damage,
  so nothing is set aside; the message names the real error."""


def _array_names(like: Any) -> dict[str, Any]:
  """{orbax array name: leaf} of a pytree."""
  return {".".join(str(k) for k in path): leaf
          for path, leaf in ocp.tree.to_flat_dict(like).items()}


def _short(error: Exception) -> str:
  """First line of a tensorstore error, without its long JSON spec."""
  text = str(error).split(" [tensorstore_spec", 1)[0].strip()
  return text.splitlines()[0][:300] if text else type(error).__name__


def _read_arrays(item_dir: str) -> dict[str, bytes]:
  """Every key of a step's OCDBT database with its value, read in full.

  The directory is given as a path, never a file:// URL, which would read
  '%20', '#' and '?' in it as URL syntax.
  """
  store = ts.KvStore.open({"driver": "ocdbt", "base": {
      "driver": "file", "path": item_dir + os.sep}}).result()
  return {key.decode(): store.read(key).result().value
          for key in store.list().result()}


def _shape_problems(stored: dict[str, bytes], like: Any) -> list[str]:
  """How the arrays on disk differ from `like`'s leaves (empty: they fit)."""
  problems = []
  names = _array_names(like)
  for name, leaf in names.items():
    zarray = stored.get(f"{name}/.zarray")
    if zarray is None:
      problems.append(f"{name}: missing on disk")
      continue
    meta = json.loads(zarray)
    shape, dtype = tuple(meta["shape"]), np.dtype(meta["dtype"])
    if shape != tuple(leaf.shape) or dtype != leaf.dtype:
      problems.append(f"{name}: {dtype.name}{list(shape)} on disk, "
                      f"{np.dtype(leaf.dtype).name}{list(leaf.shape)} in "
                      "this config")
  extra = sorted({key.split("/")[0] for key in stored} - set(names))
  problems += [f"{name}: on disk, not in this config" for name in extra]
  return problems


class Checkpointer:
  """Saves the (seed-stacked, sharded) train state under `workdir/checkpoints`.

  read_only: for reading a run (generate), which must not change it.
  """

  def __init__(self, workdir: str, max_to_keep: int = 2,
               read_only: bool = False):
    self._workdir = os.path.abspath(workdir)
    self.directory = os.path.join(self._workdir, CHECKPOINTS_DIR)
    self._manager = ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(
            max_to_keep=None if read_only else max_to_keep,
            create=not read_only, read_only=read_only))

  def latest_step(self) -> Optional[int]:
    return self._manager.latest_step()

  def all_steps(self) -> list[int]:
    return sorted(self._manager.all_steps())

  def step_damage(self, step: int, like: Any) -> Optional[str]:
    """Why checkpoint `step` cannot be restored into `like`; None if it can.

    Reads the whole checkpoint. Raises CheckpointMismatch when it is intact
    but holds other arrays (another model or config) than `like`.
    """
    item_dir = os.path.join(self.directory, str(step), _ITEM)
    try:
      with open(os.path.join(item_dir, _TREE_METADATA)) as f:
        json.load(f)
    except (FileNotFoundError, ValueError) as e:
      return f"its {_TREE_METADATA} is missing or corrupt: {e}"
    except OSError as e:
      raise self._unreadable(step, e) from e
    if not _has_data(os.path.join(item_dir, _MANIFEST)):
      return f"its array index ({_MANIFEST}) is missing or empty"
    try:
      stored = _read_arrays(item_dir)
    except (OSError, ValueError) as e:  # tensorstore raises ValueError
      if not _is_damage(e, item_dir):
        raise self._unreadable(step, e) from e
      return f"its arrays are unreadable: {_short(e)}"
    if not stored:
      raise self._unreadable(step, ValueError(
          f"{_MANIFEST} lists no arrays"))
    problems = _shape_problems(stored, like)
    if problems:
      more = (f"; {len(problems) - 1} more arrays differ"
              if len(problems) > 1 else "")
      raise CheckpointMismatch(
          f"checkpoint step {step} in {self.directory} does not fit this "
          f"config ({problems[0]}{more}): it was trained with another "
          "config. Resume with that config or use a new --workdir.")
    return None

  def _unreadable(self, step: int, error: Exception) -> CheckpointUnreadable:
    return CheckpointUnreadable(
        f"checkpoint step {step} in {self.directory} could not be read, but "
        f"its files are there, so it is not called damaged and nothing was "
        f"moved: {_short(error)}")

  def newest_intact_step(self, like: Any) -> tuple[Optional[int],
                                                   dict[int, str]]:
    """(newest step that restores into `like`, {newer damaged step: why}).

    The step is None when there is no checkpoint or every one is damaged.
    Raises CheckpointMismatch (see step_damage).
    """
    damaged = {}
    for step in reversed(self.all_steps()):
      why = self.step_damage(step, like)
      if why is None:
        return step, damaged
      damaged[step] = why
    return None, damaged

  def set_aside(self, steps) -> list[str]:
    """Moves damaged steps to WORKDIR/damaged_checkpoints/; returns where."""
    moved = []
    for step in steps:
      target = os.path.join(self._workdir, DAMAGED_DIR, str(step))
      suffix = 1
      while os.path.exists(target):
        target = os.path.join(self._workdir, DAMAGED_DIR, f"{step}.{suffix}")
        suffix += 1
      os.makedirs(os.path.dirname(target), exist_ok=True)
      shutil.move(os.path.join(self.directory, str(step)), target)
      moved.append(target)
    self._manager.reload()
    return moved

  def remove_unfinished_saves(self) -> list[str]:
    """Deletes the temporary directories of saves a killed run left behind.

    Only call this while holding the workdir's lock: another process's save
    in progress looks the same.
    """
    stale = [os.path.join(self.directory, name)
             for name in sorted(os.listdir(self.directory))
             if _TMP_MARK in name]
    for path in stale:
      shutil.rmtree(path)
    return stale

  def save(self, step: int, state: Any) -> None:
    self._manager.save(step, args=ocp.args.StandardSave(state))

  def restore(self, step: int, like: Any) -> Any:
    """Restores into the shapes, dtypes and shardings of `like`."""
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
    return self._manager.restore(step,
                                 args=ocp.args.StandardRestore(abstract))

  def wait_until_finished(self) -> None:
    """Blocks until every save in flight is committed."""
    self._manager.wait_until_finished()

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()


def _is_damage(error: Exception, item_dir: str) -> bool:
  """Whether a read error shows the data are gone or corrupt: a damage
  status code, or a file of the checkpoint that failed to read or decode
  (tensorstore names it 'local file "<path>"'). Anything else (a bad spec,
  a permission) is not damage."""
  text = str(error)
  return (text.startswith(_DAMAGE_CODES)
          or f'local file "{item_dir}{os.sep}' in text)


def _has_data(path: str) -> bool:
  return os.path.isfile(path) and os.path.getsize(path) > 0


def saved_steps(workdir: str) -> list[int]:
  """Steps in workdir/checkpoints, read from the directory names only."""
  directory = os.path.join(workdir, CHECKPOINTS_DIR)
  if not os.path.isdir(directory):
    return []
  return sorted(int(name) for name in os.listdir(directory) if name.isdigit())
