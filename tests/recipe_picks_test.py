"""Tests for ssvae.sweep.picks and configs/common.py: TUNED_RECIPES."""

import os

import pytest

from configs import common
from configs import recipe_search
from ssvae import errors
from ssvae import io_utils
from ssvae.sweep import picks

LEDGER = os.path.join(os.path.dirname(os.path.dirname(__file__)), "results",
                      "recipe_search", "results.json")


def cell(variant, lr, val=None, test=None, pending=False, diverged=False):
  stats = {} if val is None else {
      "val_accuracy": {"mean": val, "std": 0.0, "n": 2},
      "accuracy": {"mean": test, "std": 0.0, "n": 2}}
  return {"name": f"lr={lr},variant={variant}",
          "axes": {"learning_rate": lr, "variant": variant},
          "pending": pending, "diverged": diverged, "stats": stats}


def ledger(*cells):
  return {"title": "T", "axes": ["learning_rate", "variant"],
          "cells": list(cells)}


def test_picks_on_validation_never_test_and_skips_diverged():
  found = picks.pick_best(ledger(
      cell("a", 1e-4, val=0.70, test=0.99), cell("a", 1e-3, val=0.80,
                                                 test=0.10),
      cell("a", 3e-3, diverged=True),
      cell("b", 1e-4, val=0.5, test=0.5), cell("b", 1e-3, pending=True)),
      by=["variant"])
  a, b = found
  assert a.best["axes"]["learning_rate"] == 1e-3  # not the test-best 1e-4
  assert a.complete and a.num_diverged == 1
  assert not b.complete and b.best["axes"]["learning_rate"] == 1e-4


def test_lower_is_better_for_log_loss_and_ties_keep_the_first():
  cells = [cell("a", lr, val=0.5) for lr in (1e-4, 1e-3)]
  for c, loss in zip(cells, (0.9, 0.3)):
    c["stats"]["val_log_loss"] = {"mean": loss, "std": 0.0, "n": 2}
  assert picks.pick_best(ledger(*cells), ["variant"], "val_log_loss")[
      0].best["axes"]["learning_rate"] == 1e-3
  assert picks.pick_best(ledger(*cells), ["variant"])[0].best["axes"][
      "learning_rate"] == 1e-4


@pytest.mark.parametrize("kwargs, message", [
    (dict(by=["varient"]), "varient"),
    (dict(by=["variant"], metric="accuracy"), "validation metrics only"),
])
def test_bad_requests_are_named(kwargs, message):
  with pytest.raises(errors.UserInputError, match=message):
    picks.pick_best(ledger(cell("a", 1e-4, val=0.5)), **kwargs)


def test_a_run_directory_is_not_a_ledger():
  with pytest.raises(errors.UserInputError, match="not a sweep's results"):
    picks.pick_best({"metrics": {}}, ["variant"])


def recipe_of(axes):
  return {"optimizer.name": axes["name"], "optimizer.decay": axes["decay"],
          "optimizer.momentum": axes["momentum"],
          "optimizer.learning_rate": axes["learning_rate"]}


def test_tuned_recipes_are_the_committed_ledgers_complete_picks():
  found = picks.pick_best(io_utils.read_json(LEDGER),
                          ["variant", "num_labels"])
  expected = {(p.group["variant"], p.group["num_labels"]):
              recipe_of(p.best["axes"]) for p in found if p.complete}
  assert common.TUNED_RECIPES == expected
  for recipe in expected.values():  # every pick is one of the readings
    recipe_search.reading_of(recipe["optimizer.name"],
                             recipe["optimizer.decay"],
                             recipe["optimizer.momentum"])


def test_overrides_need_a_complete_search():
  with pytest.raises(KeyError, match="no tuned recipe yet"):
    common.tuned_recipe_overrides(("no_such_variant",), 100)


def test_cli_writes_the_picks_and_names_a_missing_ledger(tmp_path):
  import subprocess
  import sys
  io_utils.write_json(tmp_path / "results.json", ledger(
      cell("a", 1e-4, val=0.7, test=0.7), cell("a", 1e-3, val=0.8,
                                               test=0.6)))
  root = os.path.dirname(os.path.dirname(__file__))
  def pick(workdir):
    return subprocess.run(
        [sys.executable, "-m", "experiments.pick_best",
         f"--workdir={workdir}", "--by=variant", "--show=accuracy"],
        cwd=root, capture_output=True, text=True, timeout=300)
  proc = pick(tmp_path)
  assert proc.returncode == 0, proc.stderr
  assert "| a | complete | 0.001 | 0.8000 ± 0.0000 | 0.6000 ± 0.0000 |" in (
      tmp_path / "picks.md").read_text()
  assert io_utils.read_json(tmp_path / "picks.json")["picks"][0]["complete"]
  proc = pick(tmp_path / "nothing")
  assert proc.returncode == 2 and "results.json not found" in proc.stderr
  run_dir = tmp_path / "a_train_run"
  run_dir.mkdir()
  io_utils.write_json(run_dir / "results.json", {"metrics": {}})
  proc = pick(run_dir)
  assert proc.returncode == 2 and "single run's directory" in proc.stderr


def test_knob_search_needs_the_pick_and_its_quick_variant_runs(tmp_path):
  import jax
  from configs import recipe_knobs
  if ("semi_supervised", 100) in common.TUNED_RECIPES:
    full = recipe_knobs.get_config("")
    assert full.base.optimizer.learning_rate == common.TUNED_RECIPES[
        ("semi_supervised", 100)]["optimizer.learning_rate"]
  else:
    with pytest.raises(common.ConfigArgError, match="TUNED_RECIPES"):
      recipe_knobs.get_config("")
  from ssvae.sweep import grid
  from ssvae.sweep import runner
  config = recipe_knobs.get_config("quick")
  cells = grid.check_sweep(config)
  assert len(cells) == 18
  # The remedied model (the best one-model variant) first, then the paper's.
  weights = [c.config.loss.unlabeled_entropy_weight for c in cells]
  assert weights == [20.0] * 9 + [0.0] * 9
  cosine = [c for c in cells if c.config.optimizer.schedule ==
            "warmup_cosine"][0].config
  assert cosine.optimizer.decay_steps == cosine.train.num_steps
  assert cosine.optimizer.warmup_steps < cosine.train.num_steps
  config.base.train.num_steps = 4
  config.axes = (("loss.unlabeled_entropy_weight", (20.0,)),
                 ("data.labeled_fraction_of_batch", (0.25,)),
                 ("optimizer.schedule", ("constant", "exponential")))
  summary = runner.run_sweep(config, str(tmp_path), command="c",
                            devices=jax.devices()[:1])
  assert [s.pending for s in summary] == [False, False]


TUNED_TABLES = ("tuned_table3_mnist_dense", "tuned_table4_mnist_dense",
                "tuned_table7_fashion_mnist_dense",
                "tuned_table8_fashion_mnist_dense")


@pytest.mark.parametrize("module_name", TUNED_TABLES)
def test_tuned_tables_use_each_variants_pick(module_name, monkeypatch):
  import importlib
  from ssvae.sweep import grid
  module = importlib.import_module(f"configs.{module_name}")
  assert grid.check_sweep(module.get_config("quick"))
  labels = -1 if "table4" in module_name or "table8" in module_name else 100
  picks_made = {(v, labels): {"optimizer.name": "adam",
                              "optimizer.decay": 0.999,
                              "optimizer.momentum": 0.9,
                              "optimizer.learning_rate": lr}
                for v, lr in (("semi_supervised", 1e-4),
                              ("supervised", 3e-4))}
  monkeypatch.setattr(common, "TUNED_RECIPES", picks_made)
  config = module.get_config("")
  rates = {c.axes["variant"]: c.config.optimizer.learning_rate
           for c in grid.check_sweep(config)}
  assert rates == {"semi_supervised": 1e-4, "supervised": 3e-4}
  assert "supervised: adam decay 0.999 momentum 0.9 learning rate 0.0003" in (
      config.title)
  monkeypatch.setattr(common, "TUNED_RECIPES", {})
  with pytest.raises(common.ConfigArgError, match="no tuned recipe yet"):
    module.get_config("")
