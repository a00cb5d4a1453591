"""Figures of sweep results (matplotlib object API on the Agg backend).

Every function takes the per-cell summary of a sweep: objects with `.axes`
({axis name: value}) and `.stats` ({metric: object with .mean, .std, .n}),
as ssvae.sweep.ledger.summarize returns. A cell without the metric is left
out. The std is drawn as the error bar (none when a cell has one seed).

PLOTS names the figures a sweep config may list; each needs certain axes.
"""

import dataclasses
import math
import os
from typing import Any, Callable, Sequence

from matplotlib.backends import backend_agg
from matplotlib import figure as figure_lib
import numpy as np

from ssvae import errors
from ssvae import io_utils


def _has(cell: Any, metric: str) -> bool:
  return metric in cell.stats


def _group_label(axes: dict) -> str:
  """'semi_supervised, held_out_class=7': a variant alone, other axes named."""
  return ", ".join(str(v) if k == "variant" else f"{k}={v}"
                   for k, v in axes.items()) or "all"


def _groups(summary: Sequence[Any], split_axis: str,
            metric: str) -> dict[str, list]:
  """Cells with the metric, grouped by every axis except split_axis."""
  groups = {}
  for cell in summary:
    if _has(cell, metric):
      others = {k: v for k, v in cell.axes.items() if k != split_axis}
      groups.setdefault(_group_label(others), []).append(cell)
  return groups


def _error(stats: Any) -> float:
  return 0.0 if math.isnan(stats.std) else stats.std


def _new_figure() -> tuple[figure_lib.Figure, Any]:
  fig = figure_lib.Figure(figsize=(6.0, 4.0), layout="constrained")
  backend_agg.FigureCanvasAgg(fig)
  return fig, fig.add_subplot()


def _no_data(ax, metric: str) -> None:
  ax.text(0.5, 0.5, f"no cell reports {metric!r}", ha="center",
          va="center", transform=ax.transAxes)


def line_plot(summary: Sequence[Any], x_axis: str, metric: str, *,
              title: str = "", xlabel: str = "",
              log_x: bool = True) -> figure_lib.Figure:
  """metric vs x_axis with error bars, one line per value of the other axes.

  log_x: log scale, or symmetric log (linear around 0) when some x <= 0.
  """
  fig, ax = _new_figure()
  groups = _groups(summary, x_axis, metric)
  xs_all = []
  for label, cells in groups.items():
    cells = sorted(cells, key=lambda c: c.axes[x_axis])
    xs = np.array([c.axes[x_axis] for c in cells], np.float64)
    xs_all.extend(xs)
    ax.errorbar(xs, np.array([c.stats[metric].mean for c in cells], float),
                yerr=np.array([_error(c.stats[metric]) for c in cells], float),
                marker="o", capsize=3, label=label)
  if not groups:
    _no_data(ax, metric)
  elif log_x:
    positive = [x for x in xs_all if x > 0]
    if len(positive) == len(xs_all):
      ax.set_xscale("log")
    else:
      ax.set_xscale("symlog", linthresh=min(positive, default=1.0))
  ax.set_xlabel(xlabel or x_axis)
  ax.set_ylabel(metric)
  ax.set_title(title)
  if groups:
    ax.legend()
  ax.grid(True, alpha=0.3)
  return fig


def grouped_bars(summary: Sequence[Any], category_axis: str, metric: str, *,
                 title: str = "", xlabel: str = "") -> figure_lib.Figure:
  """One group of bars per category_axis value, a bar per other-axes value."""
  fig, ax = _new_figure()
  groups = _groups(summary, category_axis, metric)
  categories = sorted({c.axes[category_axis] for cells in groups.values()
                       for c in cells})
  width = 0.8 / max(len(groups), 1)
  for i, (label, cells) in enumerate(groups.items()):
    by_category = {c.axes[category_axis]: c.stats[metric] for c in cells}
    positions = [j + (i - (len(groups) - 1) / 2) * width
                 for j, cat in enumerate(categories) if cat in by_category]
    present = [by_category[cat] for cat in categories if cat in by_category]
    ax.bar(positions, [s.mean for s in present], width,
           yerr=[_error(s) for s in present], capsize=3, label=label)
  if groups:
    ax.set_xticks(range(len(categories)), [str(c) for c in categories])
    ax.legend()
  else:
    _no_data(ax, metric)
  ax.set_xlabel(xlabel or category_axis)
  ax.set_ylabel(metric)
  ax.set_title(title)
  ax.grid(True, axis="y", alpha=0.3)
  return fig


@dataclasses.dataclass(frozen=True)
class PlotSpec:
  required_axes: tuple
  make: Callable[[Sequence[Any]], figure_lib.Figure]


PLOTS = {
    "accuracy_vs_labels": PlotSpec(
        ("num_labels",),
        lambda s: line_plot(s, "num_labels", "accuracy",
                            title="Test accuracy vs number of labels",
                            xlabel="labeled training points")),
    "auc_per_class": PlotSpec(
        ("held_out_class",),
        lambda s: grouped_bars(s, "held_out_class", "auc",
                               title="Anomaly detection ROC AUC per "
                               "held-out class",
                               xlabel="held-out (anomalous) class")),
    "auc_vs_label_fraction": PlotSpec(
        ("label_fraction",),
        lambda s: line_plot(s, "label_fraction", "auc",
                            title="Anomaly ROC AUC vs labeled fraction",
                            xlabel="fraction of normal training data "
                            "labeled")),
    "beta_vae_vs_labels": PlotSpec(
        ("num_labels",),
        lambda s: line_plot(s, "num_labels", "beta_vae_score",
                            title="betaVAE disentanglement score vs number "
                            "of labels", xlabel="labeled training images")),
}


def check_plots(names: Sequence[str], axis_names: Sequence[str]) -> None:
  """Raises ValueError for an unknown plot or one whose axes are missing."""
  for name in names:
    if name not in PLOTS:
      raise errors.ConfigError(
          f"sweep config plots: unknown plot {name!r}; "
          f"choose from {sorted(PLOTS)}.")
    missing = [a for a in PLOTS[name].required_axes if a not in axis_names]
    if missing:
      raise errors.ConfigError(
          f"sweep config plots: {name!r} needs the axes "
          f"{missing}, which the sweep lacks "
          f"({list(axis_names)}).")


def figure_formats() -> list[str]:
  """The file extensions save_figure writes (matplotlib's formats)."""
  return sorted(backend_agg.FigureCanvasAgg.get_supported_filetypes())


def check_figure_path(path: str, flag: str) -> None:
  """UserInputError naming --flag unless path's extension is a figure
  format (none: PNG); checked before any work."""
  suffix = os.path.splitext(path)[1]
  if suffix and suffix[1:].lower() not in figure_formats():
    raise errors.UserInputError(
        f"--{flag}={path}: {suffix!r} is not a figure format; use one of "
        f"{', '.join('.' + f for f in figure_formats())}.")


def save_figure(fig: figure_lib.Figure, path: str) -> None:
  """Saves atomically (temporary file, then rename), format from the suffix."""
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  suffix = os.path.splitext(path)[1]
  fd, tmp = io_utils.new_temp_file(directory, suffix)
  os.close(fd)
  try:
    fig.savefig(tmp, dpi=120)
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def write_plot(name: str, summary: Sequence[Any], path: str) -> None:
  check_plots([name], list(summary[0].axes) if summary else [])
  save_figure(PLOTS[name].make(summary), path)
