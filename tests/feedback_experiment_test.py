"""Tests for ssvae.detect.feedback_experiment on the embedded digits data."""

import json
import os

import jax
import numpy as np
import pytest

from configs import feedback_mnist
from ssvae import data as data_lib
from ssvae import train
from ssvae.metrics import anomaly
from ssvae.detect import feedback
from ssvae.detect import feedback_experiment as fx

ANOMALY = 9
FP, FN = 10, 11  # digits has 10 classes


def quick_config(**feedback_overrides):
  config = feedback_mnist.get_config("quick")
  config.feedback.num_feedback = (6,)
  config.feedback.update(feedback_overrides)
  return config


@pytest.fixture(scope="module")
def digits():
  return data_lib.load_dataset(quick_config().data)


def test_test_split_halves_every_class_deterministically():
  y = np.repeat(np.arange(3), [4, 5, 2])
  split = fx.split_test_set(y, anomaly_class=2, seed=0)
  assert np.array_equal(split.pool, fx.split_test_set(y, 2, seed=0).pool)
  assert not np.array_equal(split.pool, fx.split_test_set(y, 2, seed=1).pool)
  np.testing.assert_array_equal(np.sort(np.r_[split.pool, split.eval]),
                                np.arange(len(y)))
  assert np.bincount(y[split.pool]).tolist() == [2, 2, 1]
  assert np.bincount(y[split.eval]).tolist() == [2, 3, 1]
  with pytest.raises(ValueError, match="1 points of anomaly class 2"):
    fx.split_test_set(np.array([0, 0, 1, 2]), anomaly_class=2, seed=0)


def test_round_experiment_labels_feedback_with_the_extra_classes(digits):
  config = quick_config()
  split = fx.split_test_set(digits.test.y, ANOMALY, 0)
  pool_y = digits.test.y[split.pool]
  normals = np.flatnonzero(pool_y != ANOMALY)
  anomalies = np.flatnonzero(pool_y == ANOMALY)
  labels = [feedback.FeedbackLabels(normals[:2], anomalies[:1]),
            feedback.FeedbackLabels(normals[5:6], anomalies[3:5])]
  exp = fx.build_round_experiment(config, digits, split, labels,
                                  devices=jax.devices()[:1])
  num_normal = int(np.sum(digits.train.y != ANOMALY))
  train_y, train_x = exp.dataset.train.y, exp.dataset.train.x
  assert exp.dataset.num_classes == 12
  assert len(train_y) == num_normal + 6
  assert ANOMALY not in train_y[:num_normal]
  pool_x = digits.test.x[split.pool]
  # Seed 0's block, then seed 1's: FP rows first, labeled 10; FN rows 11.
  np.testing.assert_array_equal(train_y[num_normal:], [FP, FP, FN, FP, FN, FN])
  np.testing.assert_array_equal(
      train_x[num_normal:],
      pool_x[[normals[0], normals[1], anomalies[0], normals[5], anomalies[3],
              anomalies[4]]])
  for s, own_rows in ((0, [0, 1, 2]), (1, [3, 4, 5])):
    labeled = np.asarray(exp.pools.labeled[s])
    unlabeled = np.asarray(exp.pools.unlabeled[s])
    feedback_rows = labeled[labeled >= num_normal] - num_normal
    assert feedback_rows.tolist() == own_rows
    assert len(labeled) == 45 + 3
    assert np.bincount(train_y[labeled[labeled < num_normal]]).tolist() == (
        [5] * 9)
    # Unlabeled data: normal points only, none of them labeled.
    assert unlabeled.max() < num_normal
    assert not np.intersect1d(labeled, unlabeled).size
    assert len(unlabeled) == num_normal - 45
  # The evaluation set is the model's test split.
  np.testing.assert_array_equal(exp.dataset.test.y, digits.test.y[split.eval])


def test_unequal_feedback_counts_are_rejected(digits):
  split = fx.split_test_set(digits.test.y, ANOMALY, 0)
  labels = [feedback.FeedbackLabels([0], []),
            feedback.FeedbackLabels([0, 1], [])]
  with pytest.raises(ValueError, match=r"different numbers.*\[1, 2\]"):
    fx.build_round_experiment(quick_config(), digits, split, labels)


@pytest.mark.parametrize("field, value, message", [
    ("model.variant", "unsupervised", "config.model.variant"),
    ("data.held_out_class", -1, "config.data.held_out_class"),
    ("feedback.strategy", "loudest", "config.feedback.strategy"),
    ("feedback.num_feedback", (5, 5), "config.feedback.num_feedback"),
    ("feedback.flag_quantile", 1.0, "config.feedback.flag_quantile"),
])
def test_bad_configs_name_the_field(field, value, message):
  config = quick_config()
  section, name = field.split(".")
  config[section][name] = value
  with pytest.raises(ValueError, match=message):
    fx.check_config(config)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
  """One quick experiment (round 0 + 6 feedback labels), training recorded."""
  workdir = str(tmp_path_factory.mktemp("feedback"))
  experiments = {}
  original = train.train

  def recording_train(config, directory, **kwargs):
    experiments[os.path.basename(directory)] = kwargs["experiment"]
    return original(config, directory, **kwargs)

  with pytest.MonkeyPatch.context() as patch:
    patch.setattr(fx.train, "train", recording_train)
    summary = fx.run_feedback_experiment(quick_config(), workdir,
                                         command="python -m test")
  return workdir, summary, experiments


def test_results_files(finished):
  workdir, summary, experiments = finished
  assert sorted(experiments) == ["feedback_6", "round_0"]
  assert json.load(open(os.path.join(workdir, "results.json"))) == json.loads(
      json.dumps(summary))
  assert [r["num_feedback"] for r in summary["rounds"]] == [0, 6]
  for r in summary["rounds"]:
    assert len(r["auc"]) == len(r["auc_adjusted"]) == 2
    assert all(0.0 <= a <= 1.0 for a in r["auc"] + r["auc_adjusted"])
  markdown = open(os.path.join(workdir, "results.md")).read()
  assert "- Command: `python -m test`" in markdown
  assert "- Commit: `" in markdown
  feedback_round = summary["rounds"][1]
  mean_auc = np.mean(feedback_round["auc_adjusted"])
  assert [fp + fn for fp, fn in zip(feedback_round["num_fp"],
                                    feedback_round["num_fn"])] == [6, 6]
  assert (f"| 6 | {np.mean(feedback_round['num_fp']):g} | "
          f"{np.mean(feedback_round['num_fn']):g} | "
          f"{np.mean(feedback_round['auc']):.4f} ± ") in markdown
  assert f"| {mean_auc:.4f} ± " in markdown and "(n=2) |" in markdown


def test_feedback_points_are_the_users_labels(finished, digits):
  workdir, _, experiments = finished
  exp = experiments["feedback_6"]
  results = json.load(open(os.path.join(workdir, "feedback_6",
                                        fx.ROUND_RESULTS)))
  round0 = fx.load_round_scores(workdir, 0)
  split = fx.split_test_set(digits.test.y, ANOMALY, 0)
  pool_x, pool_y = digits.test.x[split.pool], digits.test.y[split.pool]
  train_y = np.asarray(exp.dataset.train.y)
  for s in range(2):
    fp = np.asarray(results["false_positive_idx"][s])
    fn = np.asarray(results["false_negative_idx"][s])
    # Half of the 6 go to each kind, unless one kind has too few mistakes.
    assert len(fp) + len(fn) == 6 and min(len(fp), len(fn)) >= 1
    threshold = round0["flag_threshold"][s]
    scores = round0["pool_scores"][s]
    # A flagged normal is a false positive, a missed anomaly a false negative.
    assert np.all(pool_y[fp] != ANOMALY) and np.all(scores[fp] >= threshold)
    assert np.all(pool_y[fn] == ANOMALY) and np.all(scores[fn] < threshold)
    labeled = np.asarray(exp.pools.labeled[s])
    rows = labeled[train_y[labeled] >= FP]
    np.testing.assert_array_equal(train_y[rows],
                                  [FP] * len(fp) + [FN] * len(fn))
    np.testing.assert_array_equal(exp.dataset.train.x[rows],
                                  pool_x[np.r_[fp, fn]])
  # Round 0 trains the 12-class head with no FP/FN labels at all.
  exp0 = experiments["round_0"]
  assert exp0.dataset.num_classes == 12
  assert np.asarray(exp0.dataset.train.y).max() <= 8


def test_after_feedback_auc_uses_the_adjusted_score(finished, digits):
  workdir, summary, experiments = finished
  scores = fx.load_round_scores(workdir, 6)
  is_anomaly = experiments["feedback_6"].dataset.test.y == ANOMALY
  row = summary["rounds"][1]
  for s in range(2):
    adjusted = feedback.adjusted_scores(
        scores["eval_scores"][s], scores["p_fp"][s], scores["p_fn"][s],
        row["s_max"][s],
        score_floor=min(0.0, scores["eval_scores"][s].min()))
    np.testing.assert_allclose(scores["adjusted"][s], adjusted, rtol=1e-12)
    assert row["auc_adjusted"][s] == pytest.approx(
        anomaly.roc_auc(adjusted, is_anomaly))
    assert row["auc"][s] == pytest.approx(
        anomaly.roc_auc(scores["eval_scores"][s], is_anomaly))
    assert not np.allclose(adjusted, scores["eval_scores"][s])
    # s_max is the largest training score, above most evaluation scores.
    assert row["s_max"][s] >= np.median(scores["eval_scores"][s])


class _Trained(Exception):
  pass


def test_rerun_skips_finished_rounds(finished, monkeypatch):
  workdir, summary, _ = finished
  trained = []

  def no_training(config, directory, **kwargs):
    trained.append(os.path.basename(directory))
    raise _Trained()

  monkeypatch.setattr(fx.train, "train", no_training)
  again = fx.run_feedback_experiment(quick_config(), workdir,
                                     command="python -m test")
  assert not trained
  assert again["rounds"] == summary["rounds"]
  # More rounds may be added; only the new one trains.
  with pytest.raises(_Trained):
    fx.run_feedback_experiment(quick_config(num_feedback=(6, 2)), workdir)
  assert trained == ["feedback_2"]
  # A changed protocol is refused, naming the field.
  changed = quick_config()
  changed.data.num_labels = 90
  with pytest.raises(ValueError, match="data.num_labels"):
    fx.run_feedback_experiment(changed, workdir)


def test_unfinished_round_resumes_to_the_same_results(finished):
  workdir, summary, _ = finished
  # A kill after the last checkpoint but before the round's results: the
  # rerun restores the checkpoint, reselects the same feedback and rescoring
  # gives the same numbers.
  path = os.path.join(workdir, "feedback_6", fx.ROUND_RESULTS)
  before = json.load(open(path))
  os.remove(path)
  again = fx.run_feedback_experiment(quick_config(), workdir,
                                     command="python -m test")
  assert json.load(open(path)) == before  # same feedback points, same AUCs
  assert again["rounds"] == summary["rounds"]
