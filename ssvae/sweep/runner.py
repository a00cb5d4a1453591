"""Training a sweep: every unfinished cell, resumably, in shards or stacks.

`run_sweep(config, workdir, command=...)` checks every unfinished cell
before anything is written, trains each with train.train_and_evaluate (or
stacked: train.train_and_evaluate_stacked) in ledger.run_dir(workdir, cell),
and rewrites the ledger after every finished cell.
"""

import functools
import hashlib
import os
import re
import time
from typing import Optional, Sequence

import jax
import ml_collections

from ssvae import data as data_lib
from ssvae import errors
from ssvae import experiment as experiment_lib
from ssvae import io_utils
from ssvae import progress
from ssvae import run_dir as run_dir_lib
from ssvae import stacking
from ssvae import train
from ssvae import workdir as workdir_lib
from ssvae.sweep import grid
from ssvae.sweep import ledger


class DataCache:
  """Loads each data set the cells use once: cells differ in other fields."""

  def __init__(self):
    self._datasets = {}

  def get(self, data_config) -> data_lib.Dataset:
    key = (data_config.name, data_config.source, data_config.data_dir)
    if key not in self._datasets:
      self._datasets[key] = data_lib.load_dataset(data_config)
    return self._datasets[key]


def _in_cell(cell: grid.Cell, error: errors.UserInputError):
  """The same kind of error, its message prefixed with the cell's name."""
  return type(error)(f"sweep cell {cell.name!r}: {error}")


def check_cells_can_train(cells: Sequence[grid.Cell], workdir: str,
                          data: DataCache, devices=None,
                          run_dirs_of: Optional[Sequence[grid.Cell]] = None
                          ) -> None:
  """Refuses the sweep before anything is written or trained when a cell
  would fail: its data (missing, or too few points for its num_labels), its
  experiment (e.g. num_labels not divisible by the classes) or its run
  directory (another config, a num_steps below its step).

  run_dirs_of: the cells whose run directories are checked (default: all of
  `cells`); a shard checks only its own, the others may be training.
  """
  for cell in cells:
    try:
      experiment_lib.experiment_from_dataset(
          cell.config, data.get(cell.config.data), devices)
    except errors.UserInputError as e:
      raise _in_cell(cell, e) from e
  check_run_dirs(cells if run_dirs_of is None else run_dirs_of, workdir)


def check_run_dirs(cells: Sequence[grid.Cell], workdir: str) -> None:
  """Refuses cells whose run directory holds a run their config cannot
  continue (another config, a num_steps below its step); reads only."""
  for cell in cells:
    try:
      run_dir_lib.check_can_resume(cell.config, ledger.run_dir(workdir, cell))
    except errors.UserInputError as e:
      raise _in_cell(cell, e) from e


def run_cells(cells: Sequence[grid.Cell], workdir: str, *, devices=None,
              on_cell_end=None, data: Optional[DataCache] = None,
              on_diverged: str = "stop",
              stack_cells: bool = False) -> dict[str, dict]:
  """Trains every unfinished cell; returns {cell name: results}.

  on_diverged="record": a cell whose training diverges is finished with
  diverged_record (written to its run directory's diverged.json) and the
  next cell trains; "stop": the error ends the sweep.

  stack_cells: cells whose configs differ only in the points they train on
  (label count or fraction, held-out class: ssvae.stacking) train together
  as one program, with the numbers each has alone (up to float32
  rounding: ssvae/stacking.py).

  Each cell's results.json records the commit and machine that trained it
  (read once, before training: the code in memory). on_cell_end(results so
  far) is called after every finished cell. data: the loaded data sets to
  reuse (the cells' own loads by default).
  """
  trained_by = {"git_commit": ledger.git_commit(),
                "machine": ledger.machine_description()}
  results = ledger.finished_cells(cells, workdir)  # Identical on every process.
  pending = [cell for cell in cells if cell.name not in results]
  if results:
    print(f"{len(results)} of {len(cells)} cells already finished; "
          "skipping them.", flush=True)
  if on_cell_end is not None:
    on_cell_end(results)  # the ledger lists every unfinished cell as pending
  data = data or DataCache()
  experiment_of = lambda cell: experiment_lib.experiment_from_dataset(
      cell.config, data.get(cell.config.data), devices)
  with progress.Progress(len(cells), initial=len(results), desc="sweep",
                         unit="cell") as bar:

    def finish(cell: grid.Cell, outcome, seconds: float) -> None:
      if isinstance(outcome, errors.TrainingDiverged):
        if on_diverged != "record":
          raise outcome
        outcome = {**ledger.diverged_record(cell, outcome), **trained_by}
        if jax.process_index() == 0:
          io_utils.write_json(os.path.join(ledger.run_dir(workdir, cell),
                                           ledger.DIVERGED_FILE), outcome)
      results[cell.name] = outcome
      bar.update(1)
      if on_cell_end is not None:
        on_cell_end(results)
      bar.write(f"[{len(results)}/{len(cells)}] {cell.name}: "
                f"{ledger.metric_means(outcome)} ({seconds:.0f} s)")

    for group in (stack_groups(pending, experiment_of) if stack_cells
                  else [[(cell, None)] for cell in pending]):
      start = time.time()
      if len(group) > 1:
        outcomes = train.train_and_evaluate_stacked(
            [exp for _, exp in group],
            [ledger.run_dir(workdir, cell) for cell, _ in group],
            provenance=trained_by)
        bar.write(f"Trained {len(group)} cells as one program.")
        diverged = None
        for (cell, _), outcome in zip(group, outcomes):
          try:
            finish(cell, outcome, time.time() - start)
          except errors.TrainingDiverged as e:  # after the others' results
            diverged = diverged or e
        if diverged is not None:
          raise diverged
        continue
      cell, exp = group[0]
      try:
        outcome = train.train_and_evaluate(
            cell.config, ledger.run_dir(workdir, cell), devices=devices,
            experiment=exp or experiment_of(cell), provenance=trained_by)
      except errors.TrainingDiverged as e:
        outcome = e
      finish(cell, outcome, time.time() - start)
  return results


def stack_groups(cells: Sequence[grid.Cell],
                 experiment_of) -> list[list[tuple]]:
  """The cells as groups that can train as one program, in order of their
  first cell: [[(cell, its Experiment), ...], ...]. Cells group when their
  configs differ only in ssvae.stacking's free fields and they sample
  batches alike."""
  groups = {}
  for cell in cells:
    exp = experiment_of(cell)
    key = (stacking.stack_key(cell.config), exp.sampling_mode)
    groups.setdefault(key, []).append((cell, exp))
  return list(groups.values())


def parse_shard(text: str) -> tuple[int, int]:
  """'i/n' -> (i, n), with a clear error for anything else."""
  try:
    index, count = (int(part) for part in text.split("/"))
  except ValueError:
    raise errors.UserInputError(
        f"--shard={text!r}: expected i/n, e.g. 0/4.") from None
  if not 0 <= index < count:
    raise errors.UserInputError(f"--shard={text!r}: need 0 <= i < n.")
  return index, count


def select_cells(cells: Sequence[grid.Cell], shard: tuple[int, int] = (0, 1),
                 only: Optional[str] = None) -> list[grid.Cell]:
  """The cells one job trains: cells i, i+n, ... of shard (i, n), and of
  those the ones whose name matches the regular expression `only`
  (re.search), so that a table's cells can be trained in another order or
  by several jobs. A pattern that matches no cell is an error."""
  shard_index, num_shards = shard
  if not 0 <= shard_index < num_shards:
    raise errors.ConfigError(f"shard {shard_index} of {num_shards}: need "
                             f"0 <= shard index < number of shards.")
  selected = list(cells[shard_index::num_shards])
  if only is None:
    return selected
  try:
    pattern = re.compile(only)
  except re.error as e:
    raise errors.UserInputError(
        f"--only={only!r} is not a regular expression: {e}.") from None
  matching = [c for c in selected if pattern.search(c.name)]
  if not matching:
    names = "; ".join(c.name for c in selected)
    raise errors.UserInputError(
        f"--only={only!r} matches none of the cells"
        f"{' of this shard' if num_shards > 1 else ''}: {names}")
  return matching


def lock_name(shard: tuple[int, int] = (0, 1),
              only: Optional[str] = None) -> str:
  """The lock file a sweep job holds in its workdir: one per shard and
  --only pattern, so the jobs of a split sweep run side by side and a second
  copy of one job is refused."""
  index, count = shard
  name = workdir_lib.LOCK_FILE
  if count > 1:
    name += f".shard-{index}-of-{count}"
  if only is not None:
    name += f".only-{hashlib.sha1(only.encode()).hexdigest()[:8]}"
  return name


def run_sweep(sweep_config: ml_collections.ConfigDict, workdir: str, *,
              command: str, devices=None, process_index: Optional[int] = None,
              train_pending: bool = True,
              shard: tuple[int, int] = (0, 1),
              only: Optional[str] = None,
              allow_dirty: bool = True,
              stack_cells: bool = False) -> list[ledger.CellSummary]:
  """Validates, trains every unfinished cell, then writes the outputs.

  Nothing is written (sweep_config.json included) before the unfinished
  cells are checked: against their data, and the run directories of those
  this job trains (check_cells_can_train); with train_pending=False, the
  run directories of all of them (nothing trains, no data is loaded).

  Every process of a multi-host job calls this with the same arguments; the
  cells train across all processes' devices and only process 0 writes (and
  locks the workdir). train_pending=False only writes the ledger: finished
  cells and the pending ones. shard=(i, n) trains only cells i, i+n, i+2n,
  ... so that n independent jobs can share one workdir, and only (a
  regular expression) keeps the cells whose name it matches (select_cells);
  a job that trains a subset writes the ledger from every cell finished on
  disk. Each job holds its own lock file
  (lock_name), and each cell's run directory is locked while it trains, so
  two jobs never train one cell. allow_dirty=False refuses to train any
  cell from a checkout with uncommitted changes (check_clean_tree).
  stack_cells: see run_cells.
  """
  cells = grid.check_sweep(sweep_config)
  if stack_cells and jax.process_count() > 1:
    raise errors.UserInputError(
        "--stack_cells stacks cells on one host's devices; with "
        "--multihost, train the cells one at a time, or give each host its "
        "own stacked job with --shard=i/n (no --multihost).")
  mine = select_cells(cells, shard, only)
  finished = ledger.finished_cells(cells, workdir)
  pending = [c for c in cells if c.name not in finished]
  data = DataCache()
  if train_pending and not allow_dirty and any(
      c.name not in finished for c in mine):
    ledger.check_clean_tree()
  if train_pending:
    mine_names = {c.name for c in mine}
    check_cells_can_train(pending, workdir, data, devices,
                          run_dirs_of=[c for c in pending
                                       if c.name in mine_names])
  else:
    check_run_dirs(pending, workdir)
  if process_index is None:
    process_index = jax.process_index()
  with workdir_lib.claimed(workdir, lock=process_index == 0 and train_pending,
                           lock_name=lock_name(shard, only)):
    if process_index == 0:
      io_utils.atomic_write_text(
          os.path.join(workdir, "sweep_config.json"),
          sweep_config.to_json_best_effort(indent=2) + "\n")
    write = functools.partial(ledger.write_outputs, workdir, sweep_config,
                              cells, command=command,
                              process_index=process_index)
    def write_finished_on_disk(_=None):
      return write(ledger.finished_cells(cells, workdir))
    if not train_pending:
      return write_finished_on_disk()
    on_diverged = grid.on_diverged_of(sweep_config)
    if len(mine) < len(cells):
      run_cells(mine, workdir, devices=devices,
                on_cell_end=write_finished_on_disk, data=data,
                on_diverged=on_diverged, stack_cells=stack_cells)
      return write_finished_on_disk()
    results = run_cells(cells, workdir, devices=devices, on_cell_end=write,
                        data=data, on_diverged=on_diverged,
                        stack_cells=stack_cells)
    return write(results)
