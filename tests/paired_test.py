"""Tests for ssvae/sweep/paired.py and experiments/paired_comparison.py."""

import numpy as np
import pytest
from scipy import stats

from ssvae import errors
from ssvae.sweep import paired

A = {0: 0.80, 1: 0.78, 2: 0.75}
B = {0: 0.70, 1: 0.79, 2: 0.71}


def _ledger(pending_1000=False):
  cells, runs = [], []
  for variant, values in (("semi_supervised", A), ("supervised", B)):
    for n in (100, 1000):
      name = f"variant={variant},num_labels={n}"
      pending = pending_1000 and n == 1000 and variant == "supervised"
      cells.append({"name": name, "axes": {"variant": variant,
                                           "num_labels": n},
                    "pending": pending, "diverged": False, "stats": {}})
      if not pending:
        runs += [{"cell": name, "seed": s, "accuracy": v + n / 1e4,
                  "log_loss": 1 - v} for s, v in values.items()]
  return {"axes": ["variant", "num_labels"], "cells": cells, "runs": runs,
          "metrics": ["accuracy", "log_loss"]}


def test_per_seed_differences_wins_and_the_paired_t_test():
  groups = paired.paired_groups(_ledger(), "variant", "semi_supervised",
                                "supervised", "accuracy")
  assert [g.group for g in groups] == [{"num_labels": "100"},
                                       {"num_labels": "1000"}]
  d = np.array([A[s] - B[s] for s in sorted(A)])
  assert groups[0].differences == pytest.approx(tuple(d))
  assert groups[0].wins == 2  # seed 1 goes to the sibling
  # The paired t-test by hand: t = mean / (sd / sqrt(n)), two-sided.
  t = d.mean() / (d.std(ddof=1) / np.sqrt(d.size))
  assert groups[0].p_value == pytest.approx(2 * stats.t.sf(abs(t), d.size - 1))
  # log loss: lower is better, so the wins count the negative differences.
  loss = paired.paired_groups(_ledger(), "variant", "semi_supervised",
                              "supervised", "log_loss")
  assert loss[0].wins == 2 and loss[0].differences == pytest.approx(tuple(-d))


def test_a_group_with_a_pending_cell_is_pending_and_the_table_says_so():
  groups = paired.paired_groups(_ledger(pending_1000=True), "variant",
                                "semi_supervised", "supervised", "accuracy")
  assert not groups[0].pending and groups[1].pending
  text = paired.paired_markdown(groups, "variant", "semi_supervised",
                                "supervised", "x/results.json")
  assert "| num_labels=1000 | pending |" in text
  assert "| num_labels=100 | +0.0433 ± 0.0551 | 3 | 2/3 |" in text


@pytest.mark.parametrize("axis, a, metric, message", [
    ("varient", "semi_supervised", "accuracy", "not an axis"),
    ("variant", "m2", "accuracy", "variant=m2: no such cell"),
    ("variant", "semi_supervised", "auc", "not a metric"),
])
def test_bad_requests_name_the_problem(axis, a, metric, message):
  with pytest.raises(errors.UserInputError, match=message):
    paired.paired_groups(_ledger(), axis, a, "supervised", metric)
