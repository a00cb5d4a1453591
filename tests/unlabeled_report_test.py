"""Tests for ssvae.reports.unlabeled_report
(experiments/unlabeled_diagnosis_report)."""

import json

import pytest

from ssvae import errors
from ssvae.reports import unlabeled_report as report


def _config(variant="semi_supervised", latent=10, decoder_y="softmax",
            entropy=0.0):
  return {"model": {"variant": variant, "latent_dim": latent,
                    "decoder_y": decoder_y},
          "loss": {"unlabeled_entropy_weight": entropy}}


def test_cell_labels():
  assert report.cell_label(_config(variant="supervised")) == (
      "supervised sibling")
  assert report.cell_label(_config(latent=2)) == "paper, latent 2"
  assert report.cell_label(_config(variant="m2", latent=50)) == (
      "M2, latent 50")
  assert report.cell_label(_config(decoder_y="detached")) == (
      "paper, latent 10, decoder_y=detached")
  assert report.cell_label(_config(entropy=20.0)) == (
      "paper, latent 10, entropy x20")
  old = _config()  # a config.json saved before the unlabeled-data fields
  del old["model"]["decoder_y"], old["loss"]["unlabeled_entropy_weight"]
  assert report.cell_label(old) == "paper, latent 10"


def _write_cell(directory, config, finished):
  directory.mkdir(parents=True)
  (directory / "config.json").write_text(json.dumps(config))
  with open(directory / "metrics.jsonl", "w") as f:
    for step in (250, 500):
      for seed in (0, 1):
        f.write(json.dumps({"step": step, "split": "train", "seed": seed,
                            "unlabeled_entropy": step / 250.0}) + "\n")
        for split in ("validation", "test"):
          f.write(json.dumps({"step": step, "split": split, "seed": seed,
                              "accuracy": 0.5 + step / 1000}) + "\n")
  if finished:
    (directory / "results.json").write_text(json.dumps({
        "stop_reason": "num_steps", "selected_step": [500, 250],
        "metrics": {"accuracy": [0.9, 0.8]},
        "validation_metrics": {"accuracy": [0.7, 0.7]},
        "last_metrics": {"accuracy": [0.6, 0.6]}}))


def test_numbers_table_has_finished_and_running_cells(tmp_path):
  _write_cell(tmp_path / "runs" / "a", _config(latent=2), finished=True)
  _write_cell(tmp_path / "runs" / "b", _config(variant="m2"), finished=False)
  cells = report.load_cells(str(tmp_path))
  assert set(cells) == {"paper, latent 2", "M2, latent 10"}
  table = report.numbers_markdown(cells)
  assert ("| paper, latent 2 | finished (num_steps) | 0.700 ± 0.000 | "
          "0.850 ± 0.071 | 0.600 ± 0.000 | 375 | 1.00 → 2.00 (step 250 → "
          "500) |") in table
  assert "| M2, latent 10 | running (step 500) | — | — | 1.000 ± 0.000 |" in (
      table)
  fig = report.figure(cells)
  assert len(fig.axes) == 6


def test_cells_without_an_evaluation_yet_are_left_out(tmp_path):
  """A cell that has just started (train records only, or none) has no
  curve to draw: the report skips it instead of failing."""
  _write_cell(tmp_path / "runs" / "a", _config(latent=2), finished=True)
  started = tmp_path / "runs" / "b"
  started.mkdir(parents=True)
  (started / "config.json").write_text(json.dumps(_config(variant="m2")))
  (started / "metrics.jsonl").write_text(json.dumps(
      {"step": 250, "split": "train", "seed": 0, "unlabeled_entropy": 1.0})
      + "\n")
  empty = tmp_path / "runs" / "c"
  empty.mkdir(parents=True)
  (empty / "config.json").write_text(json.dumps(_config(latent=50)))
  (empty / "metrics.jsonl").write_text("")
  cells = report.load_cells(str(tmp_path))
  assert set(cells) == {"paper, latent 2"}
  assert "paper, latent 2" in report.numbers_markdown(cells)


def _ledger_cell(variant, num_labels, weight=0.0, accuracy=None):
  stats = {} if accuracy is None else {
      "accuracy": {"mean": accuracy, "std": 0.01, "n": 3},
      "val_accuracy": {"mean": accuracy - 0.01, "std": 0.02, "n": 3}}
  return {"name": f"{variant},{num_labels},{weight}",
          "axes": {"variant": variant, "num_labels": num_labels,
                   "unlabeled_entropy_weight": weight},
          "pending": accuracy is None, "stats": stats}


def test_comparison_table_pivots_rows_and_marks_quoted_and_pending():
  ledger = {"title": "T", "status": "1 of 5 cells pending",
            "protocol": {"train.patience": 10},
            "git_commits": {"abc1234": 4},
            "cells": [_ledger_cell("supervised", 100, accuracy=0.7),
                      _ledger_cell("supervised", 600, accuracy=0.88),
                      _ledger_cell("semi_supervised", 100, accuracy=0.76),
                      _ledger_cell("semi_supervised", 100, 20.0, 0.85),
                      _ledger_cell("m2", 100)]}
  table = report.comparison_markdown(ledger, "x/results.json",
                                     ["kingma_mnist", "pyro_mnist"])
  assert "| row | 100 labels | 600 labels | 1000 labels | 3000 labels |" in (
      table)  # the quoted rows' label counts join the columns
  assert ("| supervised sibling | 0.7000 ± 0.0100 (n=3) | "
          "0.8800 ± 0.0100 (n=3) | — | — |") in table
  assert ("| paper's model + unlabeled_entropy_weight=20 | "
          "0.8500 ± 0.0100 (n=3) | — | — | — |") in table
  assert "| M2 | pending | — | — | — |" in table
  assert ("| M2, Kingma et al. 2014 (quoted, not run here) | 0.880 | "
          "0.951 | 0.964 | 0.961 |") in table
  assert ("| pyro M2 + auxiliary loss (quoted, not run here) | 0.932 | "
          "0.944 | 0.949 | 0.958 |") in table
  assert table.index("Kingma et al. 2014 (quoted") < table.index(
      "pyro M2 + auxiliary loss (quoted")
  assert "whose recipe is unknown" in table and "reached 0.625" in table
  assert "-dirty" not in table
  assert "| paper's model | 0.7500 ± 0.0200 (n=3) |" in table  # validation
  assert "train.patience=10" in table and "`abc1234` (4 cells)" in table


def test_comparison_needs_a_label_count_axis():
  ledger = {"title": "T", "status": "complete (1 cells)", "protocol": {},
            "git_commits": {"abc1234": 1},
            "cells": [{"axes": {"variant": "m2"}, "pending": False,
                       "stats": {}}]}
  with pytest.raises(errors.UserInputError, match="sweep over num_labels"):
    report.comparison_markdown(ledger, "x/results.json")


def test_comparison_header_says_when_cells_came_from_a_dirty_tree():
  ledger = {"title": "T", "status": "complete (1 cells)", "protocol": {},
            "git_commits": {"abc1234": 3, "def5678-dirty": 2},
            "cells": [_ledger_cell("supervised", 100, accuracy=0.7)]}
  table = report.comparison_markdown(ledger, "x/results.json")
  assert ("`def5678-dirty` (2 cells). **2 cells trained from a tree with "
          "uncommitted changes") in table
  assert "Quoted rows" not in table


def test_comparison_adds_the_rows_of_another_ledger_with_its_source():
  main = {"title": "T", "status": "complete (2 cells)", "protocol": {},
          "git_commits": {"abc1234": 2},
          "cells": [_ledger_cell("supervised", 100, accuracy=0.7),
                    _ledger_cell("semi_supervised", 100, accuracy=0.76)]}
  tuned = {"title": "T, tuned recipes (adam ...)", "status": "1 of 2 cells "
           "pending", "protocol": {"train.patience": 10},
           "git_commits": {"fed4321": 1},
           "cells": [_ledger_cell("semi_supervised", 100, accuracy=0.78),
                     _ledger_cell("semi_supervised", 1000)]}
  table = report.comparison_markdown(
      main, "a/results.json", extra=[(tuned, "b/results.json", "tuned")])
  assert "| row | 100 labels | 1000 labels |" in table
  assert "| paper's model | 0.7600 ± 0.0100 (n=3) | — |" in table
  assert "| paper's model, tuned | 0.7800 ± 0.0100 (n=3) | pending |" in table
  assert ("Rows marked `tuned`: T, tuned recipes (adam ...); from the sweep "
          "ledger `b/results.json` (status: 1 of 2 cells pending)") in table
  assert "`fed4321` (1 cell)" in table
  with pytest.raises(errors.UserInputError, match="appear twice"):
    report.comparison_markdown(main, "a/results.json",
                               extra=[(main, "a/results.json", "")])
