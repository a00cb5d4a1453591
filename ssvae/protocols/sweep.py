"""Sweeps: a grid of experiment configs, every cell trained over several seeds.

A sweep config (configs/table*.py, built with `configs.common.table_sweep`) holds:
  title: heading of results.md.
  base: a full experiment config, as configs/mnist_dense.py returns.
  axes: ((path, values), ...): the grid, a product over the axes in this
    order. path is a dotted field of base ("model.variant"); its last
    component ("variant") names the axis in cell names, CSV columns and
    cell_overrides, so last components must be unique within a sweep.
  extra_grids: (axes, ...): further products appended after the main one,
    for cells that do not fit it (Table 6's unsupervised 0-label row).
  cell_overrides: ((match, override), ...): every cell whose axis values
    equal all of `match` ({axis name: value}) gets `override` ({path: value})
    applied to its config, e.g. fewer steps for the supervised variant.
  num_seeds: seeds per cell; a cell trains them as ONE vmapped program
    (base.train.num_seeds), seeds base.seed .. base.seed + num_seeds - 1.
  metrics: the metrics results.md shows (results.csv/json hold every one).
  plots: names from plots.PLOTS, written as DIR/<name>.png.
  on_diverged: "stop" (default): a cell whose training diverges stops the
    sweep with the error; "record": the cell is finished as `diverged` (its
    run directory's diverged.json names the step and seed), shown so in the
    tables, and the sweep goes on: a search over learning rates expects some.

`run_sweep(config, workdir, command=...)` trains every cell in
workdir/runs/<cell name>/ with train.train_and_evaluate and writes
results.csv (one row per cell x seed), results.json and results.md (one row
per cell, mean ± sample std).

The workdir is a ledger that can span sessions: the outputs are rewritten
after every finished cell, unfinished cells listed as `pending`. A rerun of
the same command skips finished cells and resumes unfinished ones from their
last checkpoint (or from scratch). Under results/runs/ the small per-cell
files (config.json, metrics.jsonl, results.json) are committed and the
checkpoints git-ignored, so a table grows cell by cell across sessions.
"""

import csv
import dataclasses
import functools
import hashlib
import io
import itertools
import json
import math
import os
import platform
import re
import shutil
import subprocess
import time
from typing import Any, Optional, Sequence

import jax
import ml_collections
import numpy as np

from ssvae import config_diff
from ssvae import config_validation
from ssvae import data as data_lib
from ssvae import errors
from ssvae import experiment as experiment_lib
from ssvae import io_utils
from ssvae import progress
from ssvae import run_dir as run_dir_lib
from ssvae import stacking
from ssvae import train
from ssvae import workdir as workdir_lib
from ssvae.data import sampler as sampler_lib
from ssvae.reports import plots

RUNS_DIR = "runs"
# Per-run columns of results.csv besides the axes and the metrics.
RUN_COLUMNS = ("cell", "seed", "selected_step", "step", "stop_reason",
               "num_labeled", "sampling_mode")
# Prefixes of the validation and last-step metrics in rows (the plain names
# are the test metrics of the selected state).
VALIDATION_PREFIX = "val_"
LAST_PREFIX = "last_"
PENDING = "pending"
DIRTY_SUFFIX = "-dirty"  # of a commit whose tree had uncommitted changes
DIVERGED = "diverged"
DIVERGED_FILE = "diverged.json"  # in a run directory: the cell diverged
ON_DIVERGED = ("stop", "record")
STD_NOTE = ("mean ± sample standard deviation (ddof=1) over the n seeds of a "
            "cell; `mean (n=1)` when a cell has one seed")
_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass(frozen=True)
class Cell:
  """One grid point: its name, axis values and full experiment config."""
  name: str
  axes: dict  # axis name -> value in the config (every axis of the sweep)
  config: ml_collections.ConfigDict


@dataclasses.dataclass(frozen=True)
class MetricStats:
  mean: float
  std: float  # sample std (ddof=1); nan when n == 1
  n: int


@dataclasses.dataclass(frozen=True)
class CellSummary:
  """One row of results.md: a cell's axis values and per-metric stats.

  A pending cell (not finished yet) and a diverged one have no stats.
  """
  name: str
  axes: dict
  stats: dict  # metric name -> MetricStats
  pending: bool = False
  diverged: bool = False  # finished by diverging: no stats


# --------------------------------------------------------- grid expansion


def axis_name(path: str) -> str:
  return path.rsplit(".", 1)[-1]


def _grids(sweep_config) -> list[tuple]:
  return [tuple(sweep_config.axes)] + [tuple(g) for g in
                                       sweep_config.extra_grids]


def _check_grid(grid: Any, where: str) -> None:
  if not isinstance(grid, (tuple, list)) or not grid:
    raise errors.ConfigError(
        f"sweep config {where}: expected a non-empty tuple of "
        f"(path, values) pairs, got {grid!r}.")
  for axis in grid:
    if (not isinstance(axis, (tuple, list)) or len(axis) != 2
        or not isinstance(axis[0], str)
        or not isinstance(axis[1], (tuple, list)) or not axis[1]):
      raise errors.ConfigError(
          f"sweep config {where}: every axis must be (path, non-empty tuple "
          f"of values), got {axis!r}.")


def axis_paths(sweep_config) -> list[str]:
  """Every axis path of the sweep, in order of first appearance."""
  paths = []
  for i, grid in enumerate(_grids(sweep_config)):
    _check_grid(grid, "axes" if i == 0 else f"extra_grids[{i - 1}]")
    for path, _ in grid:
      if path not in paths:
        paths.append(path)
  names = [axis_name(p) for p in paths]
  for name in names:
    if names.count(name) > 1:
      clash = [p for p in paths if axis_name(p) == name]
      raise errors.ConfigError(
          f"sweep config axes {clash} share the name {name!r}; axis paths "
          "must end in distinct field names.")
    if name in RUN_COLUMNS:
      raise errors.ConfigError(
          f"sweep config axis {name!r} clashes with the results.csv column "
          f"of that name ({RUN_COLUMNS}).")
  return paths


def _get(config, path: str) -> Any:
  node = config
  for part in path.split("."):
    if not isinstance(node, ml_collections.ConfigDict) or part not in node:
      raise errors.ConfigError(
          f"sweep config: base config has no field {path!r} (no {part!r}).")
    node = node[part]
  return node


def _set(config, path: str, value: Any, where: str) -> None:
  _get(config, path)  # Names the missing field, if any.
  parent, _, leaf = path.rpartition(".")
  node = _get(config, parent) if parent else config
  if isinstance(value, list):
    value = tuple(value)
  try:
    node[leaf] = value
  except (TypeError, ValueError) as e:
    raise errors.ConfigError(
        f"sweep config {where}: cannot set {path}={value!r}: "
        f"{e}") from e


def _plain(value: Any) -> Any:
  """Comparable, JSON-friendly form (lists -> tuples)."""
  return tuple(value) if isinstance(value, list) else value


def format_value(value: Any) -> str:
  """Axis value as it appears in cell names and results.csv."""
  if isinstance(value, (tuple, list)):
    return "-".join(format_value(v) for v in value)
  return str(value).replace("/", "_").replace(",", "_")


def _check_overrides(sweep_config, names: list[str]) -> list[tuple]:
  checked = []
  for i, entry in enumerate(sweep_config.cell_overrides):
    where = f"cell_overrides[{i}]"
    if (not isinstance(entry, (tuple, list)) or len(entry) != 2
        or not all(isinstance(d, dict) for d in entry)):
      raise errors.ConfigError(
          f"sweep config {where}: expected (match dict, "
          f"override dict), got {entry!r}.")
    match, override = entry
    unknown = [k for k in match if k not in names]
    if unknown:
      raise errors.ConfigError(
          f"sweep config {where}: match keys {unknown} are not "
          f"axis names {names}.")
    checked.append((match, override, where))
  return checked


def expand_cells(sweep_config: ml_collections.ConfigDict) -> list[Cell]:
  """Every cell of the sweep, each config validated; raises ValueError."""
  if not isinstance(sweep_config.num_seeds, int) or sweep_config.num_seeds < 1:
    raise errors.ConfigError(
        f"sweep config num_seeds: must be a positive integer, "
        f"got {sweep_config.num_seeds!r}.")
  paths = axis_paths(sweep_config)
  names = [axis_name(p) for p in paths]
  overrides = _check_overrides(sweep_config, names)
  cells, seen = [], set()
  for grid in _grids(sweep_config):
    grid_paths = [p for p, _ in grid]
    for values in itertools.product(*(tuple(v) for _, v in grid)):
      config = sweep_config.base.copy_and_resolve_references()
      for path, value in zip(grid_paths, values):
        _set(config, path, value, f"axis {path}")
      config.train.num_seeds = sweep_config.num_seeds
      grid_axes = {axis_name(p): _plain(_get(config, p)) for p in paths}
      for match, override, where in overrides:
        if all(grid_axes[k] == _plain(v) for k, v in match.items()):
          for path, value in override.items():
            _set(config, path, value, where)
      name = ",".join(f"{axis_name(p)}={format_value(v)}"
                      for p, v in zip(grid_paths, values))
      if name in seen:
        raise errors.ConfigError(
            f"sweep config: cell {name!r} appears twice; the "
            "grids overlap.")
      seen.add(name)
      try:
        config_validation.validate(config)
      except ValueError as e:
        raise errors.ConfigError(f"sweep cell {name!r}: {e}") from e
      cells.append(Cell(name=name, config=config,
                        axes={axis_name(p): _plain(_get(config, p))
                              for p in paths}))
  return cells


def check_sweep(sweep_config: ml_collections.ConfigDict) -> list[Cell]:
  """Validates everything that can fail before training; returns the cells."""
  cells = expand_cells(sweep_config)
  plots.check_plots(tuple(sweep_config.plots),
                    [axis_name(p) for p in axis_paths(sweep_config)])
  if not sweep_config.metrics:
    raise errors.ConfigError("sweep config metrics: name at least one metric.")
  on_diverged_of(sweep_config)
  return cells


def on_diverged_of(sweep_config) -> str:
  """The sweep's on_diverged ("stop" when absent, as in older configs)."""
  value = sweep_config.get("on_diverged", "stop")
  if value not in ON_DIVERGED:
    raise errors.ConfigError(
        f"sweep config on_diverged: must be one of {ON_DIVERGED}, got "
        f"{value!r}.")
  return value


# ------------------------------------------------------------ running


def run_dir(workdir: str, cell: Cell) -> str:
  return os.path.join(workdir, RUNS_DIR, cell.name)


def finished_results(cell: Cell, workdir: str) -> Optional[dict]:
  """The cell's results.json (or diverged.json, a cell recorded as
  diverged) if it finished with exactly the cell's config."""
  directory = run_dir(workdir, cell)
  config_path = os.path.join(directory, "config.json")
  for name in ("results.json", DIVERGED_FILE):
    results_path = os.path.join(directory, name)
    if os.path.exists(results_path) and os.path.exists(config_path):
      break
  else:
    return None
  current = json.loads(cell.config.to_json_best_effort())
  if config_diff.changed_fields(io_utils.read_json(config_path), current):
    return None  # train_and_evaluate resumes it, or names the conflict.
  return check_cell_results(io_utils.read_json(results_path), results_path)


def _per_seed_lists(value, num_seeds: int) -> bool:
  """{name: [number or 'nan'/'inf' string, one per seed]}, as written."""
  return isinstance(value, dict) and all(
      isinstance(v, list) and len(v) == num_seeds
      and all(isinstance(x, (int, float, str)) and not isinstance(x, bool)
              for x in v)
      for v in value.values())


def check_cell_results(results, path: str) -> dict:
  """A finished cell's results.json (or diverged.json), as read back: the
  fields the ledger reads, of the right types; WorkdirError naming the file
  otherwise (deleting it retrains the cell)."""
  def refuse(problem: str):
    raise errors.WorkdirError(
        f"{path} is not a finished cell's results ({problem}); delete it to "
        "retrain the cell.")
  if not isinstance(results, dict):
    refuse(f"not a JSON object but {type(results).__name__}")
  if "metrics" not in results and DIVERGED not in results:
    refuse(f"it has neither 'metrics' nor '{DIVERGED}'")
  seeds = results.get("seeds")
  if not (isinstance(seeds, list) and seeds
          and all(map(io_utils.is_int, seeds))):
    refuse("no list of 'seeds'")
  if DIVERGED in results:  # step and seed: where, when known
    if not isinstance(results[DIVERGED], str):
      refuse(f"'{DIVERGED}' is not the error message")
    for key in ("step", "seed"):
      if key not in results or not (results[key] is None
                                    or io_utils.is_int(results[key])):
        refuse(f"no integer (or null) '{key}'")
    return results
  if not io_utils.is_int(results.get("step")):
    refuse("no integer 'step'")
  if "last_metrics" not in results:
    refuse("no 'last_metrics'")
  for key in ("metrics", "last_metrics", "validation_metrics"):
    if key in results and not _per_seed_lists(results[key], len(seeds)):
      refuse(f"'{key}' is not {{name: [one value per seed]}}")
  if not io_utils.is_int(results.get("num_labeled")):
    refuse("no integer 'num_labeled'")
  if results.get("sampling_mode") not in sampler_lib.MODES:
    refuse(f"'sampling_mode' is not one of {sampler_lib.MODES}")
  selected = results.get("selected_step")
  if selected is not None and not (
      isinstance(selected, list) and len(selected) == len(seeds)
      and all(map(io_utils.is_int, selected))):
    refuse("'selected_step' is not one integer step per seed")
  return results


def diverged_record(cell: Cell, error: errors.TrainingDiverged) -> dict:
  """What diverged.json holds: the error, where, and the cell's seeds."""
  first = cell.config.seed
  return {DIVERGED: str(error), "step": error.step, "seed": error.seed,
          "seeds": list(range(first, first + cell.config.train.num_seeds))}


def _metric_means(results: dict) -> str:
  if DIVERGED in results:
    return f"diverged at step {results['step']} (seed {results['seed']})"
  return ", ".join(f"{k}={np.mean([float(v) for v in vs]):.4f}"
                   for k, vs in sorted(results["metrics"].items()))


def finished_cells(cells: Sequence[Cell], workdir: str) -> dict[str, dict]:
  """{cell name: results} of the cells that finished with their config."""
  results = {}
  for cell in cells:
    done = finished_results(cell, workdir)
    if done is not None:
      results[cell.name] = done
  return results


class DataCache:
  """Loads each data set the cells use once: cells differ in other fields."""

  def __init__(self):
    self._datasets = {}

  def get(self, data_config) -> data_lib.Dataset:
    key = (data_config.name, data_config.source, data_config.data_dir)
    if key not in self._datasets:
      self._datasets[key] = data_lib.load_dataset(data_config)
    return self._datasets[key]


def _in_cell(cell: Cell, error: errors.UserInputError):
  """The same kind of error, its message prefixed with the cell's name."""
  return type(error)(f"sweep cell {cell.name!r}: {error}")


def check_cells_can_train(cells: Sequence[Cell], workdir: str,
                          data: DataCache, devices=None,
                          run_dirs_of: Optional[Sequence[Cell]] = None
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


def check_run_dirs(cells: Sequence[Cell], workdir: str) -> None:
  """Refuses cells whose run directory holds a run their config cannot
  continue (another config, a num_steps below its step); reads only."""
  for cell in cells:
    try:
      run_dir_lib.check_can_resume(cell.config, run_dir(workdir, cell))
    except errors.UserInputError as e:
      raise _in_cell(cell, e) from e


def run_cells(cells: Sequence[Cell], workdir: str, *, devices=None,
              on_cell_end=None, data: Optional[DataCache] = None,
              on_diverged: str = "stop",
              stack_cells: bool = False) -> dict[str, dict]:
  """Trains every unfinished cell; returns {cell name: results}.

  on_diverged="record": a cell whose training diverges is finished with
  diverged_record (written to its run directory's diverged.json) and the
  next cell trains; "stop": the error ends the sweep.

  stack_cells: cells whose configs differ only in the points they train on
  (label count or fraction, held-out class: ssvae.stacking) train together
  as one program, with the numbers each would have alone.

  Each cell's results.json records the commit and machine that trained it
  (read once, before training: the code in memory). on_cell_end(results so
  far) is called after every finished cell. data: the loaded data sets to
  reuse (the cells' own loads by default).
  """
  trained_by = {"git_commit": git_commit(), "machine": machine_description()}
  results = finished_cells(cells, workdir)  # Identical on every process.
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

    def finish(cell: Cell, outcome, seconds: float) -> None:
      if isinstance(outcome, errors.TrainingDiverged):
        if on_diverged != "record":
          raise outcome
        outcome = {**diverged_record(cell, outcome), **trained_by}
        if jax.process_index() == 0:
          io_utils.write_json(os.path.join(run_dir(workdir, cell),
                                           DIVERGED_FILE), outcome)
      results[cell.name] = outcome
      bar.update(1)
      if on_cell_end is not None:
        on_cell_end(results)
      bar.write(f"[{len(results)}/{len(cells)}] {cell.name}: "
                f"{_metric_means(outcome)} ({seconds:.0f} s)")

    for group in (stack_groups(pending, experiment_of) if stack_cells
                  else [[(cell, None)] for cell in pending]):
      start = time.time()
      if len(group) > 1:
        outcomes = train.train_and_evaluate_stacked(
            [exp for _, exp in group],
            [run_dir(workdir, cell) for cell, _ in group],
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
            cell.config, run_dir(workdir, cell), devices=devices,
            experiment=exp or experiment_of(cell), provenance=trained_by)
      except errors.TrainingDiverged as e:
        outcome = e
      finish(cell, outcome, time.time() - start)
  return results


def stack_groups(cells: Sequence[Cell], experiment_of) -> list[list[tuple]]:
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


# -------------------------------------------------------- aggregation


def _all_metrics(results: dict) -> dict:
  """A cell's metrics by row name: test (selected), val_*, last_*."""
  out = dict(results.get("metrics", {}))  # none in a diverged cell
  for prefix, key in ((VALIDATION_PREFIX, "validation_metrics"),
                      (LAST_PREFIX, "last_metrics")):
    out.update({prefix + k: v for k, v in results.get(key, {}).items()})
  return out


def metric_names(results: dict[str, dict], first: Sequence[str]) -> list[str]:
  """`first`, then every other metric any cell reported, sorted."""
  found = {m for r in results.values() for m in _all_metrics(r)}
  return list(first) + sorted(found - set(first))


def result_rows(cells: Sequence[Cell], results: dict[str, dict],
                metrics: Sequence[str]) -> list[dict]:
  """One row per finished cell x seed; a metric a cell lacks is None."""
  rows = []
  for cell in cells:
    if cell.name not in results:
      continue  # pending
    r = results[cell.name]
    if DIVERGED in r:
      rows += [{"cell": cell.name, **cell.axes, "seed": seed,
                "selected_step": None, "step": r["step"],
                "stop_reason": DIVERGED, "num_labeled": None,
                "sampling_mode": None, **{m: None for m in metrics}}
               for seed in r["seeds"]]
      continue
    values = _all_metrics(r)
    for i, seed in enumerate(r["seeds"]):
      row = {"cell": cell.name, **cell.axes, "seed": seed,
             "selected_step": r.get("selected_step", [r["step"]] * len(
                 r["seeds"]))[i],
             "step": r["step"], "stop_reason": r.get("stop_reason"),
             "num_labeled": r["num_labeled"],
             "sampling_mode": r["sampling_mode"]}
      for m in metrics:
        row[m] = float(values[m][i]) if m in values else None
      rows.append(row)
  return rows


def metric_stats(values: Sequence[float]) -> MetricStats:
  """Mean, sample std (ddof=1; nan for one value) and count of `values`."""
  values = np.asarray(values, np.float64)
  std = float(np.std(values, ddof=1)) if len(values) > 1 else math.nan
  return MetricStats(mean=float(np.mean(values)), std=std, n=len(values))


def summarize(cells: Sequence[Cell], rows: Sequence[dict],
              metrics: Sequence[str]) -> list[CellSummary]:
  """Per cell and metric: mean, sample std (ddof=1) and count over seeds."""
  summary = []
  for cell in cells:
    cell_rows = [r for r in rows if r["cell"] == cell.name]
    stats = {m: metric_stats([r[m] for r in cell_rows])
             for m in (*metrics, "selected_step")
             if cell_rows and cell_rows[0][m] is not None}
    diverged = bool(cell_rows) and all(r["stop_reason"] == DIVERGED
                                       for r in cell_rows)
    summary.append(CellSummary(name=cell.name, axes=cell.axes, stats=stats,
                               pending=not cell_rows, diverged=diverged))
  return summary


def format_stats(stats: Optional[MetricStats]) -> str:
  if stats is None:
    return "—"
  if stats.n == 1:
    return f"{stats.mean:.4f} (n=1)"
  return f"{stats.mean:.4f} ± {stats.std:.4f} (n={stats.n})"


# ------------------------------------------------------------ outputs


def git_commit(repo_dir: str = _REPO_ROOT) -> str:
  """Short HEAD hash, '-dirty' if the tree has changes; read-only.

  A copy of the tree without .git (a tarball, a remote machine) names its
  commit in $SSVAE_GIT_COMMIT, recorded with a note that git did not check it.
  """
  env = dict(os.environ, GIT_OPTIONAL_LOCKS="0")  # Never write the index.
  def git(*args):
    return subprocess.run(["git", *args], cwd=repo_dir, env=env, text=True,
                          capture_output=True, check=True,
                          timeout=30).stdout.strip()
  try:
    commit = git("rev-parse", "--short", "HEAD")
    dirty = git("status", "--porcelain")
  except (OSError, subprocess.SubprocessError):
    declared = os.environ.get("SSVAE_GIT_COMMIT")
    if declared:
      return f"{declared} (declared by SSVAE_GIT_COMMIT; no .git)"
    return "unknown (not a git checkout)"
  return commit + (DIRTY_SUFFIX if dirty else "")


def check_clean_tree(commit: Optional[str] = None) -> None:
  """Refuses to train from a checkout with uncommitted changes: its cells
  would record '<commit>-dirty', a number from code no commit holds."""
  commit = git_commit() if commit is None else commit
  if commit.endswith(DIRTY_SUFFIX):
    raise errors.UserInputError(
        f"the checkout at {_REPO_ROOT} has uncommitted changes (`git status`"
        f"), so the cells trained now would record {commit!r}, code no "
        "commit holds. Commit them, or run from a clean `git worktree` "
        "(its --workdir can be this checkout's results/), or pass "
        "--allow_dirty.")


def machine_description() -> str:
  devices = jax.devices()
  kinds = sorted({d.device_kind for d in devices})
  return (f"{platform.platform()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}, jax {jax.__version__}, "
          f"{jax.process_count()} process(es), {len(devices)} jax devices "
          f"({', '.join(kinds)}, platform {devices[0].platform})")


# Settings a reader needs to reproduce a table row, reported when not swept.
KEY_SETTINGS = ("data.name", "model.family", "model.latent_dim",
                "model.hidden_sizes", "loss.alpha", "loss.beta",
                "optimizer.learning_rate", "optimizer.momentum",
                "train.batch_size", "train.num_steps")
# The model-selection protocol, stated in every table's header.
PROTOCOL_SETTINGS = ("data.validation_size", "train.select_metric",
                     "train.patience", "train.min_delta", "train.eval_every",
                     "train.num_steps")


def fixed_settings(sweep_config, paths: Sequence[str] = KEY_SETTINGS) -> dict:
  """`paths` of the base config that no axis varies, path -> value."""
  swept = set(axis_paths(sweep_config))
  fixed = {}
  for path in paths:
    if path not in swept:
      try:
        fixed[path] = _get(sweep_config.base, path)
      except ValueError:  # a hand-made base without this field
        pass
  return fixed


def current_provenance(command: str) -> dict:
  """The command, and this checkout's commit and machine."""
  return {"command": command, "git_commit": git_commit(),
          "machine": machine_description()}


def provenance(command: str, results: Sequence[dict]) -> dict:
  """The command, and which commits and machines trained the finished cells
  ({value: number of cells}; 'not recorded' for cells from older code)."""
  def count(key):
    values = [r.get(key, "not recorded") for r in results]
    return {v: values.count(v) for v in dict.fromkeys(values)}
  return {"command": command, "git_commits": count("git_commit"),
          "machines": count("machine")}


def _counted(values: dict) -> str:
  return "; ".join(f"`{v}` ({n} cell{'s' * (n != 1)})"
                   for v, n in values.items()) or "none yet"


def results_csv(rows: Sequence[dict], columns: Sequence[str]) -> str:
  out = io.StringIO()
  writer = csv.writer(out, lineterminator="\n")
  writer.writerow(columns)
  for row in rows:
    writer.writerow(["" if row[c] is None else
                     format_value(row[c]) if isinstance(row[c], (tuple, list))
                     else row[c] for c in columns])
  return out.getvalue()


def _status(summary: Sequence[CellSummary]) -> str:
  pending = [c.name for c in summary if c.pending]
  num_diverged = sum(c.diverged for c in summary)
  diverged = (f"; {num_diverged} diverged (no metrics; see each run's "
              f"{DIVERGED_FILE})" if num_diverged else "")
  if not pending:
    return f"complete ({len(summary)} cells{diverged})"
  return (f"{len(pending)} of {len(summary)} cells pending{diverged}; rerun "
          "the command to continue (finished cells are kept)")


def protocol_line(protocol: dict) -> str:
  """The selection protocol in words, from the (unswept) protocol settings."""
  if protocol.get("data.validation_size") == 0:
    return ("no validation split (data.validation_size=0): the last step is "
            f"reported, train.num_steps={protocol.get('train.num_steps')}")
  size = protocol.get("data.validation_size")
  size = ("the data set's default size (10000 for the MNISTs, 10% of the "
          "training points otherwise)") if size == -1 else f"{size} points"
  metric = protocol.get("train.select_metric")
  if metric == "auto":
    metric = ("accuracy (ELBO for the unsupervised sibling and anomaly "
              "runs)")
  return (f"a validation split of {size} held out of the training "
          f"split; each seed's state selected by validation {metric} every "
          f"{protocol.get('train.eval_every')} steps; early stop after "
          f"{protocol.get('train.patience')} evaluations without an "
          f"improvement above {protocol.get('train.min_delta', 0.0)} (in the "
          "metric's units) "
          f"(patience 0 = never); step cap {protocol.get('train.num_steps')}. "
          "Test metrics are those of the selected state")


def _hours(seconds: float) -> str:
  return f"{seconds / 3600:.2f} h"


def dirty_note(git_commits: dict) -> str:
  """'' or, when some cells were trained from a tree with uncommitted
  changes ({commit: cells}), a sentence saying how many and what it means."""
  dirty = sum(n for commit, n in git_commits.items()
              if str(commit).endswith(DIRTY_SUFFIX))
  return (f". **{dirty} cell{'s' * (dirty != 1)} trained from a tree with "
          "uncommitted changes (`-dirty`): their code is the named commit "
          "plus edits no commit records.**" if dirty else "")


def results_markdown(title: str, info: dict, summary: Sequence[CellSummary],
                     axes: Sequence[str], metrics: Sequence[str],
                     fixed: Optional[dict] = None,
                     protocol: Optional[dict] = None,
                     cost: Optional[dict] = None) -> str:
  lines = [f"# {title}", "",
           f"- Status: {_status(summary)}",
           f"- Command: `{info['command']}`",
           f"- Trained at commit: {_counted(info['git_commits'])}"
           + dirty_note(info["git_commits"]),
           f"- Machine: {_counted(info['machines'])}"]
  if protocol:
    lines.append(f"- Protocol: {protocol_line(protocol)}.")
  if cost:
    lines.append(f"- Cost of the finished cells: {_hours(cost['cpu_s'])} "
                 f"CPU time, {_hours(cost['wall_s'])} wall time.")
  if fixed:
    lines.append("- Fixed across rows: " + ", ".join(
        f"{path}={format_value(value)}" for path, value in fixed.items()))
  columns = [*metrics, "selected_step"] if protocol else list(metrics)
  lines += [f"- Entries: {STD_NOTE}; selected_step is the mean over seeds "
            "of the step each seed's reported state comes from.", "",
            "| " + " | ".join([*axes, *columns]) + " |",
            "|" + "---|" * (len(axes) + len(columns))]
  for cell in summary:
    values = [format_value(cell.axes[a]) for a in axes]
    if cell.pending or cell.diverged:
      values += [PENDING if cell.pending else DIVERGED] * len(columns)
    else:
      values += [format_stats(cell.stats.get(m)) for m in metrics]
      if protocol:
        step = cell.stats.get("selected_step")
        values.append("—" if step is None else f"{step.mean:.0f}")
    lines.append("| " + " | ".join(values) + " |")
  return "\n".join(lines) + "\n"


def write_outputs(workdir: str, sweep_config, cells: Sequence[Cell],
                  results: dict[str, dict], *, command: str,
                  process_index: int = 0) -> list[CellSummary]:
  """Writes results.{csv,json,md} and the figures; only process 0 writes.

  Returns the per-cell summary (on every process).
  """
  axes = [axis_name(p) for p in axis_paths(sweep_config)]
  metrics = metric_names(results, sweep_config.metrics)
  rows = result_rows(cells, results, metrics)
  summary = summarize(cells, rows, metrics)
  if process_index != 0:
    return summary
  finished = [results[c.name] for c in cells if c.name in results]
  info = provenance(command, finished)
  fixed = fixed_settings(sweep_config)
  protocol = fixed_settings(sweep_config, PROTOCOL_SETTINGS)
  cost = {k: float(sum(r.get(k, 0.0) for r in finished))
          for k in ("cpu_s", "wall_s")}
  io_utils.atomic_write_text(os.path.join(workdir, "results.csv"),
                             results_csv(rows, ["cell", *axes, *RUN_COLUMNS[1:],
                                                *metrics]))
  io_utils.write_json(os.path.join(workdir, "results.json"), {
      "title": sweep_config.title, **info, "std": STD_NOTE, "axes": axes,
      "fixed": fixed, "protocol": protocol, "cost": cost,
      "status": _status(summary),
      "metrics": metrics,
      "cells": [{"name": c.name, "axes": c.axes, "pending": c.pending,
                 "diverged": c.diverged,
                 "stats": {m: dataclasses.asdict(s)
                           for m, s in c.stats.items()}} for c in summary],
      "runs": rows})
  io_utils.atomic_write_text(
      os.path.join(workdir, "results.md"),
      results_markdown(sweep_config.title, info, summary, axes,
                       list(sweep_config.metrics), fixed, protocol, cost))
  for name in sweep_config.plots if finished else ():
    plots.write_plot(name, summary, os.path.join(workdir, f"{name}.png"))
  write_hparams_sessions(workdir, summary)
  return summary


# The cells' TensorBoard HParams sessions, one run per cell:
# `tensorboard --logdir WORKDIR/tensorboard` (HParams tab) compares them.
HPARAMS_DIR = "tensorboard"


def hparams_of(cell: CellSummary) -> tuple[dict, dict]:
  """(hparams, metrics) of a finished cell's HParams session: its axis
  values (others than bool, str, int and float as written in results.md)
  and the mean over seeds of each metric, tagged cell/<metric>."""
  hparams = {axis: (value if isinstance(value, (bool, str, int, float))
                    else format_value(value))
             for axis, value in cell.axes.items()}
  metrics = {f"cell/{name}": stats.mean for name, stats in cell.stats.items()
             if np.isfinite(stats.mean)}
  return hparams, metrics


def write_hparams_sessions(workdir: str, summary: Sequence[CellSummary]
                           ) -> None:
  """Writes the HParams session of every finished cell that has none yet
  (WORKDIR/tensorboard/<cell>; a finished cell's results do not change)."""
  for cell in summary:
    logdir = os.path.join(workdir, HPARAMS_DIR, cell.name)
    if cell.pending or cell.diverged or not cell.stats or os.path.isdir(
        logdir):
      continue
    partial = logdir + ".partial"  # renamed once whole: no half session
    shutil.rmtree(partial, ignore_errors=True)
    io_utils.write_hparams(partial, *hparams_of(cell))
    os.replace(partial, logdir)


def read_ledger(workdir: str) -> tuple[dict, str]:
  """(results.json of the sweep in `workdir`, its path), refusing a workdir
  that holds none, or holds a single run's results.json."""
  path = os.path.join(workdir, "results.json")
  if not os.path.isfile(path):
    raise errors.RunNotFoundError(
        f"{path} not found: is {workdir} a sweep's workdir?")
  ledger = io_utils.read_json(path)
  if not isinstance(ledger, dict) or not {"cells", "axes"} <= set(ledger):
    raise errors.UserInputError(
        f"{path} is not a sweep's results.json (no 'cells' or 'axes'): "
        f"{workdir} looks like a single run's directory; give the sweep's "
        "--workdir (the folder holding runs/).")
  return ledger, path


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


def select_cells(cells: Sequence[Cell], shard: tuple[int, int] = (0, 1),
                 only: Optional[str] = None) -> list[Cell]:
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
              stack_cells: bool = False) -> list[CellSummary]:
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
  cells = check_sweep(sweep_config)
  if stack_cells and jax.process_count() > 1:
    raise errors.UserInputError(
        "--stack_cells stacks cells on one host's devices; with "
        "--multihost, train the cells one at a time, or give each host its "
        "own stacked job with --shard=i/n (no --multihost).")
  mine = select_cells(cells, shard, only)
  finished = finished_cells(cells, workdir)
  pending = [c for c in cells if c.name not in finished]
  data = DataCache()
  if train_pending and not allow_dirty and any(
      c.name not in finished for c in mine):
    check_clean_tree()
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
    write = functools.partial(write_outputs, workdir, sweep_config, cells,
                              command=command, process_index=process_index)
    def write_finished_on_disk(_=None):
      return write(finished_cells(cells, workdir))
    if not train_pending:
      return write_finished_on_disk()
    on_diverged = on_diverged_of(sweep_config)
    if len(mine) < len(cells):
      run_cells(mine, workdir, devices=devices,
                on_cell_end=write_finished_on_disk, data=data,
                on_diverged=on_diverged, stack_cells=stack_cells)
      return write_finished_on_disk()
    results = run_cells(cells, workdir, devices=devices, on_cell_end=write,
                        data=data, on_diverged=on_diverged,
                        stack_cells=stack_cells)
    return write(results)
