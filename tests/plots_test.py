"""Tests for ssvae.sweep.plots on hand-made sweep summaries."""

import math

import numpy as np
import pytest
from matplotlib import image

from ssvae.sweep import plots
from ssvae.sweep import ledger


def cell(stats, **axes):
  return ledger.CellSummary(
      name=",".join(f"{k}={v}" for k, v in axes.items()), axes=axes,
      stats={m: ledger.MetricStats(mean=mean, std=std, n=n)
             for m, (mean, std, n) in stats.items()})


def label_summary():
  return [
      cell({"accuracy": (0.80, 0.02, 5)}, variant="semi_supervised",
           num_labels=100),
      cell({"accuracy": (0.95, 0.01, 5)}, variant="semi_supervised",
           num_labels=1000),
      cell({"accuracy": (0.70, 0.03, 5)}, variant="supervised",
           num_labels=100),
      cell({"accuracy": (0.90, math.nan, 1)}, variant="supervised",
           num_labels=1000),
  ]


def error_bar_lengths(container):
  """Half-lengths of an errorbar container's vertical bars."""
  segments = container.lines[2][0].get_segments()
  return [abs(s[1][1] - s[0][1]) / 2 for s in segments]


def test_line_plot_one_line_per_variant_with_error_bars():
  fig = plots.line_plot(label_summary(), "num_labels", "accuracy")
  ax = fig.axes[0]
  assert [t.get_text() for t in ax.get_legend().get_texts()] == [
      "semi_supervised", "supervised"]
  semi, sup = ax.containers
  np.testing.assert_allclose(semi.lines[0].get_xdata(), [100, 1000])
  np.testing.assert_allclose(semi.lines[0].get_ydata(), [0.80, 0.95])
  np.testing.assert_allclose(error_bar_lengths(semi), [0.02, 0.01])
  np.testing.assert_allclose(error_bar_lengths(sup), [0.03, 0.0])  # n=1
  assert ax.get_xscale() == "log"


def test_line_plot_leaves_out_cells_without_the_metric_and_uses_symlog():
  summary = [
      cell({"auc": (0.9, 0.01, 3)}, variant="semi_supervised",
           label_fraction=0.1, held_out_class=7),
      cell({"auc": (0.95, 0.01, 3)}, variant="semi_supervised",
           label_fraction=1.0, held_out_class=7),
      cell({"auc": (0.8, 0.02, 3)}, variant="unsupervised",
           label_fraction=0.0, held_out_class=7),
      cell({"accuracy": (0.5, 0.1, 3)}, variant="supervised",
           label_fraction=0.1, held_out_class=7),
  ]
  ax = plots.line_plot(summary, "label_fraction", "auc").axes[0]
  assert [t.get_text() for t in ax.get_legend().get_texts()] == [
      "semi_supervised, held_out_class=7", "unsupervised, held_out_class=7"]
  assert ax.get_xscale() == "symlog"  # the 0-label point stays visible
  np.testing.assert_allclose(ax.containers[1].lines[0].get_xdata(), [0.0])


def test_grouped_bars_heights_positions_and_errors():
  summary = [
      cell({"auc": (0.6, 0.05, 5)}, held_out_class=0, variant="unsupervised"),
      cell({"auc": (0.7, 0.04, 5)}, held_out_class=0,
           variant="semi_supervised"),
      cell({"auc": (0.8, 0.03, 5)}, held_out_class=1, variant="unsupervised"),
      cell({"auc": (0.9, 0.02, 5)}, held_out_class=1,
           variant="semi_supervised"),
  ]
  ax = plots.grouped_bars(summary, "held_out_class", "auc").axes[0]
  unsup = [b for b in ax.patches][:2]
  semi = [b for b in ax.patches][2:]
  assert [b.get_height() for b in unsup] == pytest.approx([0.6, 0.8])
  assert [b.get_height() for b in semi] == pytest.approx([0.7, 0.9])
  # Bars of one class sit side by side around its tick.
  assert unsup[0].get_x() + unsup[0].get_width() == pytest.approx(
      semi[0].get_x())
  assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1"]
  assert [t.get_text() for t in ax.get_legend().get_texts()] == [
      "unsupervised", "semi_supervised"]


def test_empty_plot_says_no_data():
  ax = plots.line_plot(label_summary(), "num_labels", "auc").axes[0]
  assert "no cell reports 'auc'" in ax.texts[0].get_text()


def test_write_plot_writes_a_png(tmp_path):
  path = tmp_path / "sub" / "accuracy_vs_labels.png"
  plots.write_plot("accuracy_vs_labels", label_summary(), str(path))
  pixels = image.imread(str(path))
  assert pixels.ndim == 3 and pixels.shape[0] > 100
  assert [p.name for p in (tmp_path / "sub").iterdir()] == [path.name]


def test_check_plots_errors():
  with pytest.raises(ValueError, match="unknown plot 'pie'"):
    plots.check_plots(["pie"], ["num_labels"])
  with pytest.raises(ValueError, match=r"needs the axes \['label_fraction'\]"):
    plots.check_plots(["auc_vs_label_fraction"], ["num_labels"])
  plots.check_plots(["accuracy_vs_labels"], ["variant", "num_labels"])


def test_beta_vae_plot_shows_the_unsupervised_point_at_zero_labels():
  summary = [
      cell({"beta_vae_score": (0.60, 0.05, 5)}, variant="unsupervised",
           num_labels=0),
      cell({"beta_vae_score": (0.70, 0.04, 5)}, variant="semi_supervised",
           num_labels=100),
      cell({"beta_vae_score": (0.80, 0.03, 5)}, variant="semi_supervised",
           num_labels=1000),
  ]
  ax = plots.PLOTS["beta_vae_vs_labels"].make(summary).axes[0]
  assert ax.get_ylabel() == "beta_vae_score"
  assert ax.get_xscale() == "symlog"
  unsup, semi = ax.containers
  np.testing.assert_allclose(unsup.lines[0].get_xdata(), [0.0])
  np.testing.assert_allclose(semi.lines[0].get_ydata(), [0.70, 0.80])
