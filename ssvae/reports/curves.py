"""Learning curves of finished (or running) runs, read from their workdirs.

A run directory holds metrics.jsonl (one record per seed per evaluation,
`split` = validation or test) and, once finished, results.json with each
seed's selected step. `learning_curves_figure` draws a metric against the
step for several runs: validation solid, test dashed, the mean over seeds
with a ±1 std band, and each seed's selected step marked on the validation
curve.
"""

import dataclasses
import os
import textwrap
from typing import Optional, Sequence

import matplotlib
from matplotlib import figure as figure_lib
from matplotlib.backends import backend_agg
import numpy as np

from ssvae import errors
from ssvae import io_utils
from ssvae.sweep import plots

SPLIT_STYLES = {"validation": "-", "test": "--", "train": ":"}
# What the shading and markers of every curve figure mean.
BAND_NOTE = ("line: mean over seeds; band: ±1 sample std over seeds; "
             "triangles: each seed's selected step")
EVAL_SPLITS = ("validation", "test")


@dataclasses.dataclass(frozen=True)
class Curves:
  """One run's curves of one metric.

  steps: [T] evaluation steps. values: {split: [S, T]} per seed.
  selected_steps: each seed's selected step ([] if the run has not finished).
  """
  label: str
  steps: np.ndarray
  values: dict
  selected_steps: tuple


def load_curves(run_dir: str, metric: str, label: str = "",
                splits: Sequence[str] = EVAL_SPLITS) -> Curves:
  """Reads `metric` per split, seed and step from a run directory.

  splits: which records to read; ("train",) reads the training records
  (the loss terms and diagnostics, averaged over each logged chunk).
  """
  path = os.path.join(run_dir, "metrics.jsonl")
  if not os.path.exists(path):
    raise errors.RunNotFoundError(
        f"{path} not found: is {run_dir} a run directory?")
  table = {}  # (split, seed) -> {step: value}
  for _, record in io_utils.read_records(path):
    if record.get("split") in splits and metric in record:
      table.setdefault((record["split"], record["seed"]), {})[
          record["step"]] = record[metric]
  if not table:
    raise errors.UserInputError(
        f"{path} has no {' or '.join(splits)} records of {metric!r}.")
  steps = np.array(sorted({s for by_step in table.values() for s in by_step}))
  seeds = sorted({seed for _, seed in table})
  values = {
      split: np.array([[table[(split, seed)].get(s, np.nan) for s in steps]
                       for seed in seeds])
      for split in splits if any(k[0] == split for k in table)}
  results_path = os.path.join(run_dir, "results.json")
  selected = ()
  if os.path.exists(results_path):
    selected = tuple(io_utils.read_json(results_path).get("selected_step",
                                                          ()))
  return Curves(label=label or os.path.basename(run_dir), steps=steps,
                values=values, selected_steps=selected)


def learning_curves_figure(curves: Sequence[Curves], metric: str, *,
                           title: str = "", ylim: Optional[tuple] = None):
  fig, ax = plots._new_figure()  # pylint: disable=protected-access
  fig.set_size_inches(7.5, 4.8)
  draw_curves(ax, curves, metric, ylim=ylim)
  ax.set_title(title or f"{metric} vs step ({BAND_NOTE})", fontsize=9)
  return fig


def run_colors(count: int) -> list:
  """One distinct colour per run: matplotlib's 10-colour cycle, or tab20's
  20 colours for more runs (the cycle would repeat)."""
  if count <= 10:
    return [f"C{i}" for i in range(count)]
  tab20 = matplotlib.colormaps["tab20"]
  return [tab20(i % 20) for i in range(count)]


def _covering(ylim: tuple, curves: Sequence[Curves]) -> tuple:
  """ylim widened, where needed, to every plotted mean (a fixed range must
  not hide a curve), with a small margin."""
  means = [np.nanmean(values, axis=0) for run in curves
           for values in run.values.values()]
  finite = np.concatenate([m[np.isfinite(m)] for m in means]) if means else []
  if not len(finite):
    return ylim
  low, high = min(ylim[0], float(finite.min())), max(ylim[1],
                                                       float(finite.max()))
  if (low, high) == tuple(ylim):
    return ylim
  margin = 0.03 * (high - low)
  return (low - margin if low < ylim[0] else low,
          high + margin if high > ylim[1] else high)


def draw_curves(ax, curves: Sequence[Curves], metric: str, *,
                ylim: Optional[tuple] = None) -> None:
  """Each run's curves on `ax`: mean over seeds, ±1 std band, a split per
  line style, each seed's selected step marked on the validation curve; the
  legend beside the axes, never over the curves."""
  for run, color in zip(curves, run_colors(len(curves))):
    for split, values in run.values.items():
      mean = np.nanmean(values, axis=0)
      ax.plot(run.steps, mean, SPLIT_STYLES[split], color=color,
              label=f"{run.label} ({split})")
      if len(values) > 1:
        std = np.nanstd(values, axis=0, ddof=1)
        ax.fill_between(run.steps, mean - std, mean + std, color=color,
                        alpha=0.12, linewidth=0)
    if "validation" in run.values and run.selected_steps:
      mean = np.nanmean(run.values["validation"], axis=0)
      at = np.interp(run.selected_steps, run.steps, mean)
      ax.plot(run.selected_steps, at, "v", color=color, markersize=8,
              markeredgecolor="black", linestyle="none")
  ax.set_xlabel("training step")
  ax.set_ylabel(metric)
  if ylim:
    ax.set_ylim(*_covering(ylim, curves))
  ax.grid(alpha=0.3)
  if curves:
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              borderaxespad=0.0, frameon=False)


def write_learning_curves(run_dirs: Sequence[str], labels: Sequence[str],
                          metric: str, path: str, title: str = "") -> None:
  curves = [load_curves(d, metric, label) for d, label in zip(run_dirs,
                                                               labels)]
  plots.save_figure(learning_curves_figure(curves, metric, title=title), path)


def panels_figure(panels: Sequence[tuple], *, ncols: int = 2,
                  title: str = ""):
  """One axes per (panel title, curves, metric[, ylim]) in a grid."""
  nrows = -(-len(panels) // ncols)
  fig = figure_lib.Figure(figsize=(8.0 * ncols, 4.4 * nrows),
                          layout="constrained")
  backend_agg.FigureCanvasAgg(fig)
  for index, (panel_title, runs, metric, *ylim) in enumerate(panels):
    ax = fig.add_subplot(nrows, ncols, index + 1)
    draw_curves(ax, runs, metric, ylim=ylim[0] if ylim else None)
    ax.set_title(textwrap.fill(panel_title, 60), fontsize=9)
  if title:
    fig.suptitle(textwrap.fill(title, 120), fontsize=10)
  return fig
