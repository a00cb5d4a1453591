"""Tests for the unlabeled-data sweep configs:
configs/unlabeled_diagnosis_mnist.py,
configs/semi_supervised_mnist.py and configs/semi_supervised_fashion_mnist.py.
"""

import importlib
import json

import jax
import numpy as np
import pytest

from configs import semi_supervised_mnist
from ssvae import config_diff
from ssvae.sweep import grid
from ssvae.sweep import runner

MODULES = ("unlabeled_diagnosis_mnist", "semi_supervised_mnist",
           "semi_supervised_fashion_mnist")


def load(module_name, arg):
  module = importlib.import_module(f"configs.{module_name}")
  config = module.get_config(arg)
  config.lock()  # as config_flags does
  return module, config


@pytest.mark.parametrize("module_name", MODULES)
@pytest.mark.parametrize("arg", ["", "quick"])
def test_config_expands_to_valid_cells(module_name, arg):
  module, config = load(module_name, arg)
  cells = grid.check_sweep(config)  # validates every cell's config
  assert f"--config=configs/{module_name}.py" in module.__doc__
  if arg == "quick":
    # Fashion-MNIST's quick variant reads a tiny synthetic Fashion-MNIST.
    expected = "fashion_mnist" if "fashion" in module_name else "digits"
    assert all(c.config.data.name == expected for c in cells)
    assert all(c.config.train.num_steps <= 10 for c in cells)
  else:
    assert {c.config.data.name for c in cells} == {
        "fashion_mnist" if "fashion" in module_name else "mnist"}
    assert config.num_seeds == (2 if "diagnosis" in module_name else 5)
    if "diagnosis" not in module_name:  # the rows not copied from Table 3/7
      assert {c.config.train.num_seeds for c in cells
              if c.axes["variant"] == "m2"
              or c.config.loss.unlabeled_entropy_weight} == {3}


def _rows(cells):
  return {(c.axes["variant"], c.axes["latent_dim"], c.axes.get("decoder_y"),
           c.axes["unlabeled_entropy_weight"]) for c in cells}


def _assert_m2_at_its_own_alpha(cells):
  """M2 at its validation-selected alpha, the paper's rows at mnist_dense's."""
  assert {c.config.loss.alpha for c in cells
          if c.axes["variant"] == "m2"} == {semi_supervised_mnist.M2_ALPHA}
  assert {c.config.loss.alpha for c in cells
          if c.axes["variant"] != "m2"} == {100.0}


def test_diagnosis_grid_has_the_paper_model_each_remedy_and_m2():
  _, config = load("unlabeled_diagnosis_mnist", "")
  cells = grid.expand_cells(config)
  assert {c.config.data.num_labels for c in cells} == {100}
  assert all(c.config.train.patience == 0 and c.config.train.diagnostics
             for c in cells)
  assert _rows(cells) == {
      ("semi_supervised", 2, "softmax", 0.0),
      ("semi_supervised", 10, "softmax", 0.0),
      ("semi_supervised", 50, "softmax", 0.0),
      ("m2", 10, "softmax", 0.0), ("m2", 50, "softmax", 0.0),
      ("supervised", 2, "softmax", 0.0),
      ("semi_supervised", 10, "straight_through", 0.0),
      ("semi_supervised", 10, "gumbel_softmax", 0.0),
      ("semi_supervised", 10, "detached", 0.0),
      ("semi_supervised", 2, "softmax", 20.0),
      ("semi_supervised", 10, "softmax", 20.0)}
  _assert_m2_at_its_own_alpha(cells)
  # The expensive M2 cells train last.
  assert [c.axes["variant"] for c in cells[-2:]] == ["m2", "m2"]
  assert "m2" not in [c.axes["variant"] for c in cells[:-2]]


def test_comparison_rows_at_every_label_count():
  module, config = load("semi_supervised_mnist", "")
  cells = grid.expand_cells(config)
  rows = {(c.axes["variant"], c.config.model.latent_dim,
           c.config.loss.unlabeled_entropy_weight) for c in cells}
  assert rows == {("supervised", 2, 0.0), ("semi_supervised", 2, 0.0),
                  ("semi_supervised", 2, 20.0),
                  ("m2", module.M2_LATENT_DIM, 0.0)}
  _assert_m2_at_its_own_alpha(cells)
  for row in rows:
    counts = sorted(c.axes["num_labels"] for c in cells
                    if (c.axes["variant"], c.config.model.latent_dim,
                        c.config.loss.unlabeled_entropy_weight) == row)
    assert counts == [100, 600, 1000, 3000], row
  _, fashion = load("semi_supervised_fashion_mnist", "")
  assert {c.axes["num_labels"] for c in grid.expand_cells(fashion)} == {
      100, 1000}


@pytest.mark.parametrize("module_name", [
    # The diagnosis sweep's quick grid (every decoder_y mode) is slow; the
    # same train-and-score path runs on semi_supervised_mnist by default.
    pytest.param("unlabeled_diagnosis_mnist", marks=pytest.mark.slow),
    "semi_supervised_mnist"])
def test_quick_sweeps_train_and_score_end_to_end(module_name, tmp_path):
  _, config = load(module_name, "quick")
  summary = runner.run_sweep(config, str(tmp_path), command="python -m test",
                            devices=jax.devices()[:1])
  assert len(summary) == len(grid.expand_cells(config))
  for cell in summary:
    for metric in ("accuracy", "val_accuracy"):
      stats = cell.stats[metric]
      assert stats.n == config.num_seeds, cell.name
      assert 0.0 <= stats.mean <= 1.0, (cell.name, metric)
  markdown = (tmp_path / "results.md").read_text()
  assert "pending" not in markdown and "variant" in markdown
  assert np.all([not c.pending for c in summary])


@pytest.mark.parametrize("module_name,table", [
    ("semi_supervised_mnist", "table3_mnist_dense"),
    ("semi_supervised_fashion_mnist", "table7_fashion_mnist_dense")])
def test_sibling_and_paper_rows_are_the_tables_cells(module_name, table):
  """So the table's finished cells can be copied in instead of retrained."""
  cells = {c.name: c for c in grid.expand_cells(load(module_name, "")[1])}
  table_cells = grid.expand_cells(load(table, "")[1])
  shared = [c for c in table_cells if c.name in cells]
  assert {c.axes["variant"] for c in shared} == {"supervised",
                                                 "semi_supervised"}
  for cell in shared:
    assert not config_diff.changed_fields(
        json.loads(cell.config.to_json_best_effort()),
        json.loads(cells[cell.name].config.to_json_best_effort()))
