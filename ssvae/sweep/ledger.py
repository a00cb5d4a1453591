"""A sweep's ledger: what its finished cells hold, and the tables made of them.

A cell is finished when its run directory (workdir/runs/<cell name>/) holds
results.json (or diverged.json) written under exactly the cell's config.
`write_outputs` turns the finished cells into results.csv (one row per cell
x seed), results.json and results.md (one row per cell, mean ± sample std,
unfinished cells listed as pending), with the provenance of every cell
(commit, machine) and the sweep's figures; `read_ledger` reads it back.
"""

import csv
import dataclasses
import io
import json
import math
import os
import platform
import shutil
import subprocess
from typing import Optional, Sequence

import jax
import numpy as np

from ssvae import config_diff
from ssvae import errors
from ssvae import io_utils
from ssvae.data import sampler as sampler_lib
from ssvae.sweep import grid
from ssvae.sweep import plots


RUNS_DIR = "runs"
# Prefixes of the validation and last-step metrics in rows (the plain names
# are the test metrics of the selected state).
VALIDATION_PREFIX = "val_"
LAST_PREFIX = "last_"
PENDING = "pending"
DIRTY_SUFFIX = "-dirty"  # of a commit whose tree had uncommitted changes
DIVERGED = "diverged"
DIVERGED_FILE = "diverged.json"  # in a run directory: the cell diverged
STD_NOTE = ("mean ± sample standard deviation (ddof=1) over the n seeds of a "
            "cell; `mean (n=1)` when a cell has one seed")
_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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


# ------------------------------------------------------ finished cells


def run_dir(workdir: str, cell: grid.Cell) -> str:
  return os.path.join(workdir, RUNS_DIR, cell.name)


def finished_results(cell: grid.Cell, workdir: str) -> Optional[dict]:
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


def diverged_record(cell: grid.Cell, error: errors.TrainingDiverged) -> dict:
  """What diverged.json holds: the error, where, and the cell's seeds."""
  first = cell.config.seed
  return {DIVERGED: str(error), "step": error.step, "seed": error.seed,
          "seeds": list(range(first, first + cell.config.train.num_seeds))}


def metric_means(results: dict) -> str:
  if DIVERGED in results:
    return f"diverged at step {results['step']} (seed {results['seed']})"
  return ", ".join(f"{k}={np.mean([float(v) for v in vs]):.4f}"
                   for k, vs in sorted(results["metrics"].items()))


def finished_cells(cells: Sequence[grid.Cell], workdir: str) -> dict[str, dict]:
  """{cell name: results} of the cells that finished with their config."""
  results = {}
  for cell in cells:
    done = finished_results(cell, workdir)
    if done is not None:
      results[cell.name] = done
  return results


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


def result_rows(cells: Sequence[grid.Cell], results: dict[str, dict],
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


def summarize(cells: Sequence[grid.Cell], rows: Sequence[dict],
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
                "optimizer.name", "optimizer.decay",
                "optimizer.learning_rate", "optimizer.momentum",
                "train.batch_size", "train.num_steps")
# The model-selection protocol, stated in every table's header.
PROTOCOL_SETTINGS = ("data.validation_size", "train.select_metric",
                     "train.patience", "train.min_delta", "train.eval_every",
                     "train.num_steps")


def settings_by_cell(sweep_config, cells: Sequence[grid.Cell],
                     paths: Sequence[str] = KEY_SETTINGS
                     ) -> tuple[dict, dict]:
  """(fixed, per_cell) of the `paths` no axis varies, read from the cells'
  own configs, so that a value a cell override sets is never reported as
  the base's. fixed: path -> the one value every cell has. per_cell: path
  -> {value as results.md writes it: the cells that have it}, the cells
  named by the axis values they share (e.g. 'variant=m2')."""
  swept = set(grid.axis_paths(sweep_config))
  fixed, per_cell = {}, {}
  for path in paths:
    if path in swept:
      continue
    try:
      values = [grid.field_value(c.config, path) for c in cells]
    except ValueError:  # a hand-made base without this field
      continue
    formatted = [grid.format_value(v) for v in values]
    if len(set(formatted)) == 1:
      fixed[path] = values[0]
    elif formatted:
      per_cell[path] = {v: _describe_cells(
          [c for c, f in zip(cells, formatted) if f == v], cells)
          for v in dict.fromkeys(formatted)}
  return fixed, per_cell


def _describe_cells(group: Sequence[grid.Cell],
                    cells: Sequence[grid.Cell]) -> str:
  """The axis values every cell of `group` shares and not every cell of
  the sweep does ('variant=m2'), else the group's size."""
  shared = [(k, v) for k, v in group[0].axes.items()
            if all(c.axes.get(k) == v for c in group)
            and not all(c.axes.get(k) == v for c in cells)]
  return (", ".join(f"{k}={grid.format_value(v)}" for k, v in shared)
          or f"{len(group)} cells")


def per_cell_line(per_cell: dict) -> str:
  return "; ".join(
      f"{path}=" + ", ".join(f"{value} ({where})"
                             for value, where in groups.items())
      for path, groups in per_cell.items())


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
                     grid.format_value(row[c])
                     if isinstance(row[c], (tuple, list)) else row[c]
                     for c in columns])
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


def protocol_line(protocol: dict, per_cell: Sequence[str] = ()) -> str:
  """The selection protocol in words, from the (unswept) protocol settings;
  one that differs between cells (a path in `per_cell`) reads 'per cell'."""
  protocol = {"train.min_delta": 0.0, **protocol,
              **{k: "per cell" for k in per_cell if k in PROTOCOL_SETTINGS}}
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
          f"improvement above {protocol.get('train.min_delta')} (in the "
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
                     cost: Optional[dict] = None,
                     per_cell: Optional[dict] = None) -> str:
  lines = [f"# {title}", "",
           f"- Status: {_status(summary)}",
           f"- Command: `{info['command']}`",
           f"- Trained at commit: {_counted(info['git_commits'])}"
           + dirty_note(info["git_commits"]),
           f"- Machine: {_counted(info['machines'])}"]
  if protocol:
    lines.append(f"- Protocol: {protocol_line(protocol, per_cell or ())}.")
  if cost:
    lines.append(f"- Cost of the finished cells: {_hours(cost['cpu_s'])} "
                 f"CPU time, {_hours(cost['wall_s'])} wall time.")
  if fixed:
    lines.append("- Fixed across rows: " + ", ".join(
        f"{path}={grid.format_value(value)}" for path, value in fixed.items()))
  if per_cell:
    lines.append("- Set per cell (the sweep's cell overrides): "
                 + per_cell_line(per_cell))
  columns = [*metrics, "selected_step"] if protocol else list(metrics)
  lines += [f"- Entries: {STD_NOTE}; selected_step is the mean over seeds "
            "of the step each seed's reported state comes from.", "",
            "| " + " | ".join([*axes, *columns]) + " |",
            "|" + "---|" * (len(axes) + len(columns))]
  for cell in summary:
    values = [grid.format_value(cell.axes[a]) for a in axes]
    if cell.pending or cell.diverged:
      values += [PENDING if cell.pending else DIVERGED] * len(columns)
    else:
      values += [format_stats(cell.stats.get(m)) for m in metrics]
      if protocol:
        step = cell.stats.get("selected_step")
        values.append("—" if step is None else f"{step.mean:.0f}")
    lines.append("| " + " | ".join(values) + " |")
  return "\n".join(lines) + "\n"


def write_outputs(workdir: str, sweep_config, cells: Sequence[grid.Cell],
                  results: dict[str, dict], *, command: str,
                  process_index: int = 0) -> list[CellSummary]:
  """Writes results.{csv,json,md} and the figures; only process 0 writes.

  Returns the per-cell summary (on every process).
  """
  axes = [grid.axis_name(p) for p in grid.axis_paths(sweep_config)]
  metrics = metric_names(results, sweep_config.metrics)
  rows = result_rows(cells, results, metrics)
  summary = summarize(cells, rows, metrics)
  if process_index != 0:
    return summary
  finished = [results[c.name] for c in cells if c.name in results]
  info = provenance(command, finished)
  fixed, per_cell = settings_by_cell(sweep_config, cells)
  protocol, per_cell_protocol = settings_by_cell(sweep_config, cells,
                                                 PROTOCOL_SETTINGS)
  per_cell.update(per_cell_protocol)
  cost = {k: float(sum(r.get(k, 0.0) for r in finished))
          for k in ("cpu_s", "wall_s")}
  io_utils.atomic_write_text(os.path.join(workdir, "results.csv"),
                             results_csv(rows, ["cell", *axes,
                                                *grid.RUN_COLUMNS[1:],
                                                *metrics]))
  io_utils.write_json(os.path.join(workdir, "results.json"), {
      "title": sweep_config.title, **info, "std": STD_NOTE, "axes": axes,
      "fixed": fixed, "per_cell": per_cell, "protocol": protocol,
      "cost": cost,
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
                       list(sweep_config.metrics), fixed, protocol, cost,
                       per_cell))
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
                    else grid.format_value(value))
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
