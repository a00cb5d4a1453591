"""Tests for the false-positive / false-negative feedback classes."""

import jax.numpy as jnp
import numpy as np
import pytest

from ssvae.detect import feedback


def test_feedback_labels_validation():
  labels = feedback.FeedbackLabels([3, 1], [])
  assert len(labels) == 2
  assert labels.false_negative_idx.shape == (0,)
  with pytest.raises(ValueError, match="both false positive and false negative"):
    feedback.FeedbackLabels([1, 2], [2, 5])
  with pytest.raises(ValueError, match="duplicate"):
    feedback.FeedbackLabels([1, 1], [])
  with pytest.raises(ValueError, match="integer indices"):
    feedback.FeedbackLabels([0.5], [])


def test_mask():
  labels = feedback.FeedbackLabels([0], [3])
  np.testing.assert_array_equal(labels.mask(5),
                                [True, False, False, True, False])
  with pytest.raises(ValueError, match=r"false_negative_idx has indices \[3\]"):
    labels.mask(3)


def test_extend_labels_maps_to_new_classes():
  y = np.array([0, 1, 2, 1, -1], np.int32)
  y_new, num_classes = feedback.extend_labels(
      y, 3, feedback.FeedbackLabels([1, 4], [2]))
  assert num_classes == 5
  np.testing.assert_array_equal(y_new, [0, 3, 4, 1, 3])
  np.testing.assert_array_equal(y, [0, 1, 2, 1, -1])  # input untouched
  assert y_new.dtype == np.int32


@pytest.mark.parametrize("y, num_classes, fb, message", [
    ([0, 1, 2], 3, feedback.FeedbackLabels([3], []), r"outside 0..2"),
    ([0, 1, 2], 3, feedback.FeedbackLabels([], [-1]), r"outside 0..2"),
    ([0, 4, 2], 3, feedback.FeedbackLabels([0], []), "already added"),
    ([0.0, 1.0], 3, feedback.FeedbackLabels([0], []), "integer labels"),
])
def test_extend_labels_errors(y, num_classes, fb, message):
  with pytest.raises(ValueError, match=message):
    feedback.extend_labels(np.array(y), num_classes, fb)


def test_feedback_probabilities_are_the_two_last_softmax_entries():
  logits = jnp.log(jnp.array([[1.0, 1.0, 2.0, 4.0], [4.0, 2.0, 1.0, 1.0]]))
  p_fp, p_fn = feedback.feedback_probabilities(logits, 2)
  np.testing.assert_allclose(p_fp, [0.25, 0.125], rtol=1e-6)
  np.testing.assert_allclose(p_fn, [0.5, 0.125], rtol=1e-6)
  with pytest.raises(ValueError, match=r"\[N, 5\]"):
    feedback.feedback_probabilities(logits, 3)


def test_adjusted_scores_hand_computation():
  scores = np.array([2.0, 4.0, 6.0])
  got = feedback.adjusted_scores(scores, p_fp=[0.5, 0.0, 0.25],
                                 p_fn=[0.0, 0.5, 0.25], s_max=10.0)
  np.testing.assert_allclose(got, [1.0, 9.0, 4.5 + 2.5])


def test_sure_false_positive_goes_to_zero_and_sure_false_negative_above_s_max():
  scores = np.array([0.0, 3.0, 50.0, 7.5])
  s_max = 20.0
  got = feedback.adjusted_scores(scores, p_fp=[1, 1, 0, 0], p_fn=[0, 0, 1, 1],
                                 s_max=s_max)
  np.testing.assert_allclose(got[:2], 0.0)
  assert np.all(got[2:] >= s_max)
  # No feedback signal leaves scores unchanged.
  np.testing.assert_allclose(
      feedback.adjusted_scores(scores, np.zeros(4), np.zeros(4), s_max), scores)


def test_score_floor_for_negative_gaussian_scores():
  scores = np.array([-5.0, -1.0])
  got = feedback.adjusted_scores(scores, p_fp=[1.0, 0.0], p_fn=[0.0, 1.0],
                                 s_max=2.0, score_floor=-6.0)
  np.testing.assert_allclose(got, [-6.0, -1.0 + 8.0])
  assert got[1] >= 2.0
  with pytest.raises(ValueError, match="below score_floor"):
    feedback.adjusted_scores(scores, [0, 0], [0, 0], s_max=2.0)


@pytest.mark.parametrize("p_fp, p_fn, s_max, message", [
    ([0.2, 1.3], [0.0, 0.0], 5.0, "p_fp must be probabilities"),
    ([0.2, 0.3], [-0.1, 0.0], 5.0, "p_fn must be probabilities"),
    ([0.2], [0.0, 0.0], 5.0, r"p_fp has shape \(1,\)"),
    ([0.7, 0.0], [0.6, 0.0], 5.0, "exceeds 1"),
    ([0.0, 0.0], [0.0, 0.0], np.inf, "s_max"),
])
def test_adjusted_scores_errors(p_fp, p_fn, s_max, message):
  with pytest.raises(ValueError, match=message):
    feedback.adjusted_scores(np.array([1.0, 2.0]), p_fp, p_fn, s_max)


# Scores 0..9; anomalies at 2, 5, 8, 9. Threshold 5.5 flags 6, 7, 8, 9:
# false positives {6, 7}, false negatives {2, 5}.
SCORES = np.arange(10, dtype=np.float64)
IS_ANOMALY = np.isin(np.arange(10), [2, 5, 8, 9])


def test_select_feedback_takes_half_of_each_kind():
  fb = feedback.select_feedback(SCORES, IS_ANOMALY, 2, rng=0, threshold=5.5)
  assert len(fb.false_positive_idx) == 1 and len(fb.false_negative_idx) == 1
  assert set(fb.false_positive_idx) <= {6, 7}
  assert set(fb.false_negative_idx) <= {2, 5}


def test_select_feedback_random_reaches_every_candidate():
  picks = {tuple(feedback.select_feedback(SCORES, IS_ANOMALY, 2, rng=seed,
                                          threshold=5.5).false_positive_idx)
           for seed in range(20)}
  assert picks == {(6,), (7,)}


def test_select_feedback_most_confident_and_budget():
  # Budget 3 flags 7, 8, 9: FP {7}, FN {2, 5}.
  fb = feedback.select_feedback(SCORES, IS_ANOMALY, 3, budget=3,
                                strategy="most_confident")
  np.testing.assert_array_equal(fb.false_positive_idx, [7])
  np.testing.assert_array_equal(fb.false_negative_idx, [2, 5])
  fb = feedback.select_feedback(SCORES, IS_ANOMALY, 2, threshold=5.5,
                                strategy="most_confident")
  np.testing.assert_array_equal(fb.false_positive_idx, [7])
  np.testing.assert_array_equal(fb.false_negative_idx, [2])


def test_select_feedback_short_side_cedes_and_caps_at_mistakes():
  # Threshold 8.5 flags only 9 (an anomaly): no FP, FN {2, 5, 8}.
  fb = feedback.select_feedback(SCORES, IS_ANOMALY, 10, rng=1, threshold=8.5)
  assert fb.false_positive_idx.size == 0
  np.testing.assert_array_equal(fb.false_negative_idx, [2, 5, 8])


@pytest.mark.parametrize("kwargs, message", [
    (dict(threshold=1.0, budget=2), "exactly one"),
    (dict(), "exactly one"),
    (dict(budget=11), "budget must be in"),
    (dict(threshold=1.0, strategy="greedy"), "Unknown strategy"),
])
def test_select_feedback_errors(kwargs, message):
  with pytest.raises(ValueError, match=message):
    feedback.select_feedback(SCORES, IS_ANOMALY, 2, **kwargs)


def test_select_feedback_needs_boolean_truth_of_same_length():
  with pytest.raises(ValueError, match="boolean"):
    feedback.select_feedback(SCORES, IS_ANOMALY.astype(int), 2, threshold=1.0)
  with pytest.raises(ValueError, match="equal length"):
    feedback.select_feedback(SCORES, IS_ANOMALY[:5], 2, threshold=1.0)
