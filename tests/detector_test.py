"""Tests for ssvae.detect.detector: thresholds, and the detector end to end on
digits."""

import csv
import dataclasses
import json
import os

import jax
import numpy as np
import pytest
from scipy import stats

from configs import default
from ssvae import train
from ssvae.detect import detector as detect
from ssvae.detect import feedback

ANOMALY = 0  # the digit held out: the detector should flag it
TARGET_FPR = 0.1


def digits_config(**overrides):
  config = default.base_config()
  config.model.hidden_sizes = (64,)
  config.data.num_labels = 90
  config.data.held_out_class = ANOMALY
  config.data.validation_size = 300
  config.train.batch_size = 32
  config.train.num_steps = 400
  config.train.steps_per_call = 100
  config.train.eval_every = 200
  config.train.checkpoint_every = 400
  config.train.eval_batch_size = 500
  for field, value in overrides.items():
    section, name = field.split(".")
    config[section][name] = value
  return config


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
  """A semi-supervised run on digits without the digit 0 (~15 s)."""
  path = str(tmp_path_factory.mktemp("run"))
  train.train(digits_config(), path, devices=jax.devices()[:1])
  return path


@pytest.fixture(scope="module")
def detector(workdir):
  fitted = detect.with_threshold(detect.load(workdir), detect.TARGET_FPR,
                                 TARGET_FPR)
  detect.save(fitted)
  return fitted


# --------------------------------------------------------------- thresholds


def test_target_fpr_threshold_leaves_floor_of_level_times_n_above():
  scores = np.random.default_rng(0).normal(size=1000)
  threshold = detect.fit_threshold(scores, detect.TARGET_FPR, 0.05)
  assert np.sum(scores > threshold.value) == 50
  assert threshold.validation_fpr == 0.05 and threshold.num_validation == 1000
  assert detect.fit_threshold(scores[:999], detect.TARGET_FPR,
                              0.05).validation_fpr == 49 / 999


def test_percentile_threshold_is_numpys_percentile():
  scores = np.arange(101.0)
  threshold = detect.fit_threshold(scores, detect.PERCENTILE, 99)
  assert threshold.value == 99.0 and threshold.validation_fpr == 1 / 101


def test_threshold_request_takes_one_rule_at_most():
  assert detect.threshold_request(99.0, None) == (detect.PERCENTILE, 99.0)
  assert detect.threshold_request(None, 0.05) == (detect.TARGET_FPR, 0.05)
  assert detect.threshold_request(None, None) is None
  with pytest.raises(ValueError, match="not both"):
    detect.threshold_request(99.0, 0.05)


@pytest.mark.parametrize("rule, level, message", [
    (detect.TARGET_FPR, 0.001, r"target_fpr=0.001 is below 1/100"),
    (detect.TARGET_FPR, 1.0, r"target_fpr must be in \(0, 1\)"),
    (detect.PERCENTILE, 100, r"threshold_percentile must be in \(0, 100\)"),
    ("top_k", 5, "Unknown threshold rule 'top_k'"),
])
def test_unusable_threshold_requests_are_refused(rule, level, message):
  with pytest.raises(ValueError, match=message):
    detect.fit_threshold(np.arange(100.0), rule, level)


# --------------------------------------------------------------- end to end


def test_flags_hit_the_target_fpr_on_held_out_normals_and_catch_the_anomaly(
    detector):
  """The realised FPR on the test split's normal points is checked against
  its exact distribution. The threshold is the (k+1)-th largest of n
  validation scores, k = floor(target * n). If validation and test normals
  are exchangeable, the chance p that a new normal scores above it is
  Beta(k + 1, n - k) distributed, and the number of the m test normals
  above it is Beta-binomial(m, k + 1, n - k); we require the count to lie
  in that distribution's central 99.9% interval."""
  threshold = detector.settings.threshold
  test = detector.base.dataset.test
  flagged = detect.flags(detector, detect.score(detector, test.x))
  is_anomaly = test.y == ANOMALY
  n, m = threshold.num_validation, int(np.sum(~is_anomaly))
  k = int(np.floor(TARGET_FPR * n))
  false_positives = int(np.sum(flagged[~is_anomaly]))
  low, high = stats.betabinom(m, k + 1, n - k).ppf([0.0005, 0.9995])
  assert low <= false_positives <= high, (false_positives, low, high, m)
  assert np.mean(flagged[is_anomaly]) >= 0.75  # recall on held-out 0s


def test_saved_detector_is_reused_with_identical_scores(detector, workdir):
  saved = json.load(open(os.path.join(workdir, detect.DETECTOR_FILE)))
  assert saved["threshold"]["rule"] == "target_fpr"
  assert saved["threshold"]["level"] == TARGET_FPR
  reloaded = detect.load(workdir)
  assert reloaded.settings == detector.settings
  x = detector.base.dataset.test.x[:50]
  np.testing.assert_array_equal(detect.score(reloaded, x).score,
                                detect.score(detector, x).score)


def test_asking_for_another_state_starts_without_a_threshold(detector,
                                                             workdir):
  assert detect.load(workdir, state="last").settings.threshold is None
  assert detect.load(workdir, num_samples=3).settings.threshold is None
  assert detect.load(workdir).settings.threshold is not None


def test_csv_has_a_row_per_point_with_score_flag_and_class(detector, tmp_path):
  x = detector.base.dataset.test.x[:20]
  scores = detect.score(detector, x)
  flagged = detect.flags(detector, scores)
  path = str(tmp_path / "scores.csv")
  detect.write_csv(path, scores, flagged)
  rows = list(csv.DictReader(open(path)))
  assert list(rows[0]) == ["index", "score", "flag", "predicted_class"]
  assert [int(r["index"]) for r in rows] == list(range(20))
  np.testing.assert_allclose([float(r["score"]) for r in rows], scores.score,
                             rtol=1e-6)
  assert [int(r["flag"]) for r in rows] == flagged.astype(int).tolist()
  assert {int(r["predicted_class"]) for r in rows} <= set(range(10))


def test_feedback_fine_tunes_adjusts_scores_and_is_saved(detector, workdir):
  """Feedback on the test split's mistakes: the labeled points move the way
  the user said, and the fine-tuned detector is what the next load uses."""
  test = detector.base.dataset.test
  scores = detect.score(detector, test.x)
  labels = feedback.select_feedback(
      scores.score, test.y == ANOMALY, 8, rng=0,
      threshold=detector.settings.threshold.value)
  tuned = detect.with_feedback(detector, test.x, labels, 100,
                               detect.TARGET_FPR, TARGET_FPR)
  info = tuned.settings.feedback
  assert (info.num_false_positive, info.num_false_negative) == (
      len(labels.false_positive_idx), len(labels.false_negative_idx))
  assert os.path.isdir(os.path.join(workdir, info.directory, "checkpoints"))
  after = detect.score(tuned, test.x)
  fn, fp = labels.false_negative_idx, labels.false_positive_idx
  assert np.all(after.p_false_negative[fn] > 0.5)
  assert np.all(after.score[fn] > scores.score[fn])
  assert np.mean(after.score[fp] - after.raw_score[fp]) < 0
  assert tuned.settings.threshold.validation_fpr <= TARGET_FPR
  detect.save(tuned)
  reloaded = detect.load(workdir)
  assert reloaded.settings == tuned.settings
  np.testing.assert_allclose(detect.score(reloaded, test.x).score,
                             after.score, rtol=1e-5)
  # A second round keeps the first round's points.
  more = feedback.FeedbackLabels(np.array([0]), np.zeros(0, int))
  again = detect.with_feedback(reloaded, test.x[100:], more, 10,
                               detect.TARGET_FPR, TARGET_FPR)
  assert again.settings.feedback.num_false_positive == len(fp) + 1
  detect.save(detector)  # later tests see the plain detector


def test_a_run_without_a_decoder_cannot_score(tmp_path):
  config = digits_config(**{"model.variant": "supervised",
                            "train.num_steps": 10})
  train.train(config, str(tmp_path), devices=jax.devices()[:1])
  with pytest.raises(ValueError, match=r"is a 'supervised' run: it has no "
                     "decoder, so it cannot score"):
    detect.load(str(tmp_path))


def test_a_seed_index_outside_the_run_is_refused(workdir):
  with pytest.raises(ValueError, match=r"seed_index=3 is outside 0..0"):
    detect.load(workdir, seed_index=3)


def test_a_run_without_validation_cannot_set_a_threshold(tmp_path):
  config = digits_config(**{"data.validation_size": 0,
                            "train.num_steps": 10})
  train.train(config, str(tmp_path), devices=jax.devices()[:1])
  loaded = detect.load(str(tmp_path))
  with pytest.raises(ValueError, match="has no validation split"):
    detect.with_threshold(loaded, detect.TARGET_FPR, 0.1)
  with pytest.raises(ValueError, match="has no threshold yet"):
    detect.flags(loaded, detect.Scores(np.zeros(1), np.zeros(1)))


def test_settings_round_trip_through_the_detector_file(detector, tmp_path):
  fake = dataclasses.replace(detector, workdir=str(tmp_path))
  detect.save(fake)
  assert detect.read_settings(str(tmp_path)) == detector.settings
  (tmp_path / detect.DETECTOR_FILE).write_text('{"state": "selected"}')
  with pytest.raises(ValueError, match="not a detector file"):
    detect.read_settings(str(tmp_path))
