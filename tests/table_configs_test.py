"""Tests for the per-table sweep configs (configs/table*.py) and the
`python -m experiments.sweep` entry point."""

import csv
import glob
import importlib
import json
import os
import re
import subprocess
import sys

import jax
import numpy as np
import pytest

from ssvae import experiment as experiment_lib
from ssvae import train
from ssvae.data import uci_har
from ssvae.sweep import grid as grid_lib
from ssvae.sweep import runner
import synthetic_har

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TABLE_FILES = sorted(glob.glob(os.path.join(REPO, "configs", "table*.py")))
TABLE_MODULES = [os.path.basename(f)[:-3] for f in TABLE_FILES]


def load(module_name, arg):
  module = importlib.import_module(f"configs.{module_name}")
  config = module.get_config(arg)
  config.lock()  # as config_flags does
  return module, config


def test_every_paper_table_has_a_config():
  expected = {"table3_mnist_dense", "table4_mnist_dense", "table5_mnist_dense",
              "table6_mnist_dense", "table7_fashion_mnist_dense",
              "table8_fashion_mnist_dense", "table9_fashion_mnist_dense",
              "table3_mnist_cnn", "table4_mnist_cnn", "table10_uci_har_rnn",
              "table11_uci_har_rnn"}
  assert expected <= set(TABLE_MODULES)


@pytest.mark.parametrize("module_name", TABLE_MODULES)
@pytest.mark.parametrize("arg", ["", "quick"])
def test_config_expands_to_valid_cells(module_name, arg):
  module, config = load(module_name, arg)
  cells = grid_lib.check_sweep(config)  # validates every cell's config
  assert cells and all(c.config.train.num_seeds == config.num_seeds
                       for c in cells)
  number = re.match(r"table(\d+)_", module_name).group(1)
  assert f"Table {number}" in module.__doc__
  assert f"--config=configs/{module_name}.py" in module.__doc__
  assert config.title.startswith(f"Table {number}")
  if arg == "quick":
    assert config.num_seeds == 2
    assert all(c.config.train.num_steps <= 10 for c in cells)
    # A quick variant reads its own table's data set (a tiny synthetic
    # Fashion-MNIST in the official format) or MNIST's stand-in, digits.
    full_data = load(module_name, "")[1].base.data.name
    expected = {"mnist": "digits", "dsprites": "digits"}.get(full_data,
                                                             full_data)
    assert all(c.config.data.name == expected for c in cells)
    if full_data == "fashion_mnist":
      assert all(c.config.data.source == "synthetic" for c in cells)
  else:
    # The MNIST and Fashion-MNIST anomaly tables and the converged betaVAE
    # table use 3 seeds, the others 5.
    three = ("table5_mnist_dense", "table6_mnist_dense",
             "table9_fashion_mnist_dense", "table12_dsprites")
    assert config.num_seeds == (3 if module_name in three else 5)
    assert config.base.data.name != "digits"


@pytest.mark.parametrize("module_name", ["mnist_cnn", "fashion_mnist_cnn",
                                         "table3_mnist_cnn",
                                         "table4_mnist_cnn"])
def test_cnn_configs_have_the_papers_one_dense_layer_of_512(module_name):
  """Table 14: not the (1024, 1024) of mnist_dense, which they extend."""
  module = importlib.import_module(f"configs.{module_name}")
  config = module.get_config()
  model = config.base.model if "axes" in config else config.model
  assert model.family == "cnn"
  assert tuple(model.hidden_sizes) == (512,)


def test_unknown_config_parameter_names_the_file():
  with pytest.raises(ValueError, match="table3_mnist_dense.py.*'fast'"):
    load("table3_mnist_dense", "fast")


def test_paper_grids():
  cells = grid_lib.expand_cells(load("table3_mnist_dense", "")[1])
  assert {(c.axes["variant"], c.axes["num_labels"]) for c in cells} == {
      (v, n) for v in ("semi_supervised", "supervised")
      for n in (100, 600, 1000, 3000)}
  cells = grid_lib.expand_cells(load("table4_mnist_cnn", "")[1])
  assert {c.config.data.num_labels for c in cells} == {-1}
  assert {c.config.model.family for c in cells} == {"cnn"}
  cells = grid_lib.expand_cells(load("table5_mnist_dense", "")[1])
  assert len(cells) == 20
  assert {c.config.data.label_fraction for c in cells} == {0.1}
  cells = grid_lib.expand_cells(load("table6_mnist_dense", "")[1])
  semi = sorted({c.axes["label_fraction"] for c in cells
                 if c.axes["variant"] == "semi_supervised"})
  assert len(semi) >= 4 and semi[-1] == 1.0
  assert {(c.axes["held_out_class"], c.axes["label_fraction"]) for c in cells
          if c.axes["variant"] == "unsupervised"} == {(7, 0.0), (9, 0.0)}
  cells = grid_lib.expand_cells(load("table9_fashion_mnist_dense", "")[1])
  assert {c.config.data.name for c in cells} == {"fashion_mnist"}
  cells = grid_lib.expand_cells(load("table10_uci_har_rnn", "")[1])
  assert all(c.axes["num_labels"] % 6 == 0 for c in cells)
  cells = grid_lib.expand_cells(load("table11_uci_har_rnn", "")[1])
  assert {c.config.data.held_out_class for c in cells} == {0}
  # Table 12 converges under the protocol, selecting on validation ELBO.
  cells = grid_lib.expand_cells(load("table12_dsprites", "")[1])
  assert [c.axes["num_labels"] for c in cells] == [0, 100, 1000, 10000]
  assert {(c.config.train.select_metric, c.config.train.patience,
           c.config.data.validation_size) for c in cells} == {("elbo", 10, -1)}


@pytest.mark.parametrize("module_name", ["table10_uci_har_rnn",
                                         "table11_uci_har_rnn"])
def test_har_quick_cells_build_on_synthetic_files(module_name, tmp_path):
  _, config = load(module_name, "quick")
  config.base.data.data_dir = str(synthetic_har.write_synthetic_har(tmp_path))
  for cell in grid_lib.expand_cells(config):
    exp = experiment_lib.build_experiment(cell.config)
    assert exp.dataset.input_shape == (uci_har.WINDOW_LENGTH, 6)
    if cell.axes["variant"] != "unsupervised":
      assert exp.pools.labeled.shape[1] > 0


@pytest.mark.parametrize("module_name,metric", [
    # Table 10's quick sweep also runs end to end, from the README command,
    # in tests/uci_har_table_test.py.
    pytest.param("table10_uci_har_rnn", "accuracy", marks=pytest.mark.slow),
    ("table11_uci_har_rnn", "auc")])
def test_har_quick_tables_train_and_score_on_synthetic_files(
    module_name, metric, tmp_path):
  _, config = load(module_name, "quick")
  config.base.data.data_dir = str(synthetic_har.write_synthetic_har(tmp_path / "data"))
  summary = runner.run_sweep(config, str(tmp_path / "sweep"),
                            command="python -m test",
                            devices=jax.devices()[:1])
  assert len(summary) == len(grid_lib.expand_cells(config))
  for cell in summary:
    stats = cell.stats[metric]
    assert stats.n == config.num_seeds and np.isfinite(stats.mean), cell.name
    assert 0.0 <= stats.mean <= 1.0
  rows = (tmp_path / "sweep" / "results.csv").read_text().splitlines()
  assert len(rows) == 1 + len(summary) * config.num_seeds


def test_cli_runs_a_quick_table_end_to_end(tmp_path):
  # Table 5 quick, narrowed by a command-line override to one cell.
  args = ["--config=configs/table5_mnist_dense.py:quick",
          f"--workdir={tmp_path}",
          "--config.axes=((\"data.held_out_class\", (1,)), "
          "(\"model.variant\", (\"unsupervised\",)))"]
  env = dict(os.environ, XLA_FLAGS="", JAX_PLATFORMS="cpu")
  proc = subprocess.run([sys.executable, "-m", "experiments.sweep", *args],
                        cwd=REPO, env=env, capture_output=True, text=True,
                        timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "[1/1] held_out_class=1,variant=unsupervised: auc=" in proc.stdout
  with open(tmp_path / "results.csv") as f:
    rows = list(csv.DictReader(f))
  assert [(r["cell"], r["seed"]) for r in rows] == [
      ("held_out_class=1,variant=unsupervised", "0"),
      ("held_out_class=1,variant=unsupervised", "1")]
  aucs = [float(r["auc"]) for r in rows]
  assert all(0.0 <= a <= 1.0 for a in aucs)
  results = json.load(open(tmp_path / "results.json"))
  assert results["cells"][0]["stats"]["auc"]["mean"] == pytest.approx(
      np.mean(aucs))
  markdown = (tmp_path / "results.md").read_text()
  assert markdown.startswith("# Table 5")
  assert "python -m experiments.sweep --config=configs/table5_mnist_dense.py" \
      ":quick" in markdown
  assert f"| 1 | unsupervised | {np.mean(aucs):.4f} ± " in markdown
  assert os.path.getsize(tmp_path / "auc_per_class.png") > 1000


def test_cli_rejects_a_bad_sweep_before_training(tmp_path):
  env = dict(os.environ, XLA_FLAGS="", JAX_PLATFORMS="cpu")
  proc = subprocess.run(
      [sys.executable, "-m", "experiments.sweep",
       "--config=configs/table3_mnist_dense.py:quick",
       f"--workdir={tmp_path}", "--config.axes=((\"model.varient\", (1,)),)"],
      cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
  assert proc.returncode != 0
  assert "model.varient" in proc.stderr and "Traceback" not in proc.stderr
  assert not os.path.exists(tmp_path / "runs")


def test_semi_supervised_har_model_beats_chance_on_learnable_files(tmp_path):
  """Table 10's semi-supervised cell, shrunk, learns the synthetic activities.

  Chance is 1/6; with 60 test windows an accuracy of 0.4 is about 5
  binomial standard deviations above it.
  """
  _, config = load("table10_uci_har_rnn", "quick")
  config.unlock()
  base = config.base
  base.data.data_dir = str(synthetic_har.write_synthetic_har(
      tmp_path, n_train_per_class=20, n_test_per_class=10))
  base.model.variant = "semi_supervised"
  base.data.num_labels = 30
  base.train.batch_size = 32
  base.train.num_steps = 150
  base.train.steps_per_call = 50
  base.train.eval_every = 50
  base.train.checkpoint_every = 150
  results = train.train_and_evaluate(base, str(tmp_path / "run"),
                                     devices=jax.devices()[:1])
  assert results["metrics"]["accuracy"][0] > 0.4


@pytest.mark.parametrize("module_name", ["select_alpha_mnist_dense",
                                         "select_alpha_uci_har"])
@pytest.mark.parametrize("arg", ["", "quick"])
def test_alpha_selection_configs_report_validation_accuracy(module_name, arg):
  _, config = load(module_name, arg)
  cells = grid_lib.check_sweep(config)
  assert config.metrics[0] == "val_accuracy"
  assert len({c.config.loss.alpha for c in cells}) == len(cells) > 1
  assert all(c.config.model.variant == "semi_supervised" for c in cells)


@pytest.mark.parametrize("arg", ["", "quick"])
def test_m2_alpha_selection_sweeps_alpha_of_m2_at_100_labels(arg):
  _, config = load("select_alpha_m2_mnist", arg)
  cells = grid_lib.check_sweep(config)
  assert config.metrics[0] == "val_accuracy"
  assert len({c.config.loss.alpha for c in cells}) == len(cells) == 3
  assert all(c.config.model.variant == "m2" for c in cells)
  assert all(c.config.data.num_labels == 100 for c in cells)


def test_recipe_search_gives_every_variant_the_same_grid():
  from configs import recipe_search
  _, config = load("recipe_search", "")
  cells = grid_lib.check_sweep(config)
  grid = {}
  for cell in cells:
    opt = cell.config.optimizer
    reading = recipe_search.reading_of(opt.name, opt.decay, opt.momentum)
    grid.setdefault(cell.axes["variant"], set()).add(
        (reading, opt.learning_rate, cell.config.data.num_labels))
  full = {(r, lr, n) for r in recipe_search.READINGS
          for lr in recipe_search.LEARNING_RATES
          for n in recipe_search.LABEL_COUNTS}
  assert grid == {v: full for v in ("semi_supervised", "supervised", "m2")}
  # 100 labels first, M2 after the other two at each label count.
  order = [(c.config.data.num_labels, c.axes["variant"] == "m2")
           for c in cells]
  assert order == sorted(order, key=lambda o: (o[0] != 100, o[1]))
  m2 = [c.config for c in cells if c.axes["variant"] == "m2"]
  assert all(c.loss.alpha == 1.0 and c.model.latent_dim == 50 for c in m2)
  assert all(c.train.num_seeds == 2 and c.train.patience == 10
             for c in (cell.config for cell in cells))
