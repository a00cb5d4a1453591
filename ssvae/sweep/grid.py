"""A sweep's grid: its config checked and expanded into cells.

A sweep config (configs/table*.py, built with `configs.common.table_sweep`)
is described in ssvae/sweep/__init__.py. `expand_cells` turns it into
`Cell`s (name, axis values, full experiment config) and `check_sweep`
refuses a bad one before anything trains.
"""

import dataclasses
import itertools
from typing import Any

import ml_collections

from ssvae import config_validation
from ssvae import errors
from ssvae.sweep import plots


# Per-run columns of results.csv besides the axes and the metrics.
RUN_COLUMNS = ("cell", "seed", "selected_step", "step", "stop_reason",
               "num_labeled", "sampling_mode")
ON_DIVERGED = ("stop", "record")


@dataclasses.dataclass(frozen=True)
class Cell:
  """One grid point: its name, axis values and full experiment config."""
  name: str
  axes: dict  # axis name -> value in the config (every axis of the sweep)
  config: ml_collections.ConfigDict


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


def field_value(config, path: str) -> Any:
  node = config
  for part in path.split("."):
    if not isinstance(node, ml_collections.ConfigDict) or part not in node:
      raise errors.ConfigError(
          f"sweep config: base config has no field {path!r} (no {part!r}).")
    node = node[part]
  return node


def _set(config, path: str, value: Any, where: str) -> None:
  field_value(config, path)  # Names the missing field, if any.
  parent, _, leaf = path.rpartition(".")
  node = field_value(config, parent) if parent else config
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
      grid_axes = {axis_name(p): _plain(field_value(config, p)) for p in paths}
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
                        axes={axis_name(p): _plain(field_value(config, p))
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
