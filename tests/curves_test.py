"""Tests for ssvae.reports.curves: learning curves read from run directories."""

import json

import numpy as np
import pytest

from ssvae.reports import curves


def _write_run(directory, records, selected=None):
  directory.mkdir(parents=True)
  with open(directory / "metrics.jsonl", "w") as f:
    for r in records:
      f.write(json.dumps(r) + "\n")
  if selected is not None:
    (directory / "results.json").write_text(
        json.dumps({"selected_step": selected}))


def _records():
  for step in (10, 20, 30):
    for seed in (0, 1):
      yield {"step": step, "split": "train", "seed": seed, "loss": 1.0}
      for split, offset in (("validation", 0.0), ("test", 0.5)):
        yield {"step": step, "split": split, "seed": seed,
               "accuracy": step / 100 + seed + offset}


def test_load_curves_gives_values_per_split_seed_and_step(tmp_path):
  _write_run(tmp_path / "run", _records(), selected=[20, 30])
  c = curves.load_curves(str(tmp_path / "run"), "accuracy", "model")
  np.testing.assert_array_equal(c.steps, [10, 20, 30])
  np.testing.assert_allclose(c.values["validation"],
                             [[0.1, 0.2, 0.3], [1.1, 1.2, 1.3]])
  np.testing.assert_allclose(c.values["test"] - c.values["validation"], 0.5)
  assert c.selected_steps == (20, 30) and c.label == "model"


def test_unfinished_run_has_no_selected_steps(tmp_path):
  _write_run(tmp_path / "run", _records())
  assert curves.load_curves(str(tmp_path / "run"), "accuracy").selected_steps \
      == ()


def test_missing_metric_is_a_clear_error(tmp_path):
  _write_run(tmp_path / "run", _records())
  with pytest.raises(ValueError, match="no validation or test records of "
                     "'elbo'"):
    curves.load_curves(str(tmp_path / "run"), "elbo")


def test_write_learning_curves_writes_a_png(tmp_path):
  _write_run(tmp_path / "a", _records(), selected=[20, 30])
  _write_run(tmp_path / "b", _records())
  out = tmp_path / "curves.png"
  curves.write_learning_curves([str(tmp_path / "a"), str(tmp_path / "b")],
                               ["a", "b"], "accuracy", str(out))
  assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_records_are_read_only_when_asked(tmp_path):
  _write_run(tmp_path / "run", _records())
  with pytest.raises(ValueError, match="no validation or test records"):
    curves.load_curves(str(tmp_path / "run"), "loss")
  c = curves.load_curves(str(tmp_path / "run"), "loss", splits=("train",))
  assert list(c.values) == ["train"]
  np.testing.assert_allclose(c.values["train"], np.ones((2, 3)))


def test_panels_figure_has_one_axes_per_panel(tmp_path):
  _write_run(tmp_path / "a", _records(), selected=[20, 30])
  runs = [curves.load_curves(str(tmp_path / "a"), "accuracy", "a")]
  train = [curves.load_curves(str(tmp_path / "a"), "loss", "a",
                              splits=("train",))]
  fig = curves.panels_figure([("acc", runs, "accuracy", (0, 2)),
                              ("loss", train, "loss")], ncols=2)
  assert len(fig.axes) == 2
  assert fig.axes[0].get_ylim() == (0, 2)
  assert fig.axes[1].get_title() == "loss"


def _fake_curves(label, values):
  values = np.asarray(values, np.float64)[None]  # one seed
  return curves.Curves(label=label, steps=np.arange(values.shape[1]),
                       values={"validation": values}, selected_steps=[])


def test_fixed_range_widens_to_show_every_curve_and_legend_is_outside():
  runs = [_fake_curves("in", [0.6, 0.7]), _fake_curves("low", [0.2, 0.4])]
  fig = curves.panels_figure([("p", runs, "accuracy", (0.5, 1.0))])
  ax = fig.axes[0]
  low, high = ax.get_ylim()
  assert low < 0.2 and high == 1.0
  fig.canvas.draw()
  legend = ax.get_legend().get_window_extent()
  assert legend.x0 >= ax.get_window_extent().x1  # beside, not over


def test_more_than_ten_runs_get_distinct_colours():
  colours = curves.run_colors(11)
  assert len({str(c) for c in colours}) == 11
  assert curves.run_colors(3) == ["C0", "C1", "C2"]
