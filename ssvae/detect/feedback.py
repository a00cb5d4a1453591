"""User feedback for anomaly detection (paper section 5, future work).

The class head gets two extra classes that start empty:

  false positive (FP), class num_classes:      flagged, but the user says normal
  false negative (FN), class num_classes + 1:  missed, but the user says anomaly

Points the user labels are added to the labeled set with these classes and the
model is retrained. At test time the softmax probabilities of the two classes
move the anomaly score:

  adjusted = s * (1 - p_fp) + s_max * p_fn

so a sure false positive drops to 0 (the lowest possible score) and a sure
false negative rises to at least s_max, the largest score seen on the training
data. That reading of "0 is the lowest" needs non-negative scores (true for
Bernoulli negative log-likelihoods, not always for Gaussian ones), so
`adjusted_scores` takes a `score_floor` (default 0) and shifts by it.

`select_feedback` simulates the user for experiments, where the truth is known.
"""

import dataclasses
from typing import Optional, Union

import jax
import numpy as np

from ssvae.metrics import anomaly

Array = jax.Array
SELECTION_STRATEGIES = ("random", "most_confident")
_PROBABILITY_TOLERANCE = 1e-5


def false_positive_class(num_classes: int) -> int:
  return num_classes


def false_negative_class(num_classes: int) -> int:
  return num_classes + 1


def _as_index_array(indices, name: str) -> np.ndarray:
  array = np.asarray(indices)
  if array.size == 0:
    return np.zeros((0,), np.int64)
  if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
    raise ValueError(f"{name} must be a 1-d array of integer indices, got "
                     f"shape {array.shape} and dtype {array.dtype}.")
  if len(np.unique(array)) != len(array):
    raise ValueError(f"{name} contains duplicate indices.")
  return array.astype(np.int64)


@dataclasses.dataclass(frozen=True)
class FeedbackLabels:
  """Indices (into one pool of points) the user labeled FP or FN.

  false_positive_idx: flagged as anomalies but normal.
  false_negative_idx: anomalies the detector missed.
  """
  false_positive_idx: np.ndarray
  false_negative_idx: np.ndarray

  def __post_init__(self):
    fp = _as_index_array(self.false_positive_idx, "false_positive_idx")
    fn = _as_index_array(self.false_negative_idx, "false_negative_idx")
    both = np.intersect1d(fp, fn)
    if both.size:
      raise ValueError(f"Indices {both.tolist()} are labeled both false "
                       "positive and false negative.")
    object.__setattr__(self, "false_positive_idx", fp)
    object.__setattr__(self, "false_negative_idx", fn)

  def __len__(self) -> int:
    return len(self.false_positive_idx) + len(self.false_negative_idx)

  def check_in_range(self, num_points: int) -> None:
    for name, idx in (("false_positive_idx", self.false_positive_idx),
                      ("false_negative_idx", self.false_negative_idx)):
      bad = idx[(idx < 0) | (idx >= num_points)]
      if bad.size:
        raise ValueError(f"{name} has indices {bad.tolist()} outside "
                         f"0..{num_points - 1}.")

  def mask(self, num_points: int) -> np.ndarray:
    """Boolean [num_points], True where the user gave feedback.

    OR it into the training label mask: feedback points become labeled.
    """
    self.check_in_range(num_points)
    mask = np.zeros((num_points,), bool)
    mask[self.false_positive_idx] = True
    mask[self.false_negative_idx] = True
    return mask


def extend_labels(y: np.ndarray, num_classes: int,
                  feedback: FeedbackLabels) -> tuple[np.ndarray, int]:
  """Relabels feedback points FP -> num_classes, FN -> num_classes + 1.

  y: int [N] labels in 0..num_classes-1 (negative markers for unlabeled
  points, such as -1, pass through unchanged). Returns a new array and the
  new class count num_classes + 2; y is not modified.
  """
  y = np.asarray(y)
  if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
    raise ValueError(f"y must be 1-d integer labels, got shape {y.shape} and "
                     f"dtype {y.dtype}.")
  if num_classes < 1:
    raise ValueError(f"num_classes must be positive, got {num_classes}.")
  if y.size and y.max() >= num_classes:
    raise ValueError(f"y has label {y.max()} >= num_classes={num_classes}; "
                     "were the feedback classes already added?")
  feedback.check_in_range(len(y))
  y_new = y.copy()
  y_new[feedback.false_positive_idx] = false_positive_class(num_classes)
  y_new[feedback.false_negative_idx] = false_negative_class(num_classes)
  return y_new, num_classes + 2


def feedback_probabilities(class_logits: Array,
                           num_classes: int) -> tuple[Array, Array]:
  """(p_fp, p_fn), each [N], from logits [N, num_classes + 2] of the extended head."""
  if class_logits.ndim != 2 or class_logits.shape[-1] != num_classes + 2:
    raise ValueError(
        f"class_logits must be [N, num_classes + 2] = [N, {num_classes + 2}], "
        f"got shape {class_logits.shape}.")
  probs = jax.nn.softmax(class_logits, axis=-1)
  return (probs[:, false_positive_class(num_classes)],
          probs[:, false_negative_class(num_classes)])


def _flagged(scores: np.ndarray, threshold: Optional[float],
             budget: Optional[int]) -> np.ndarray:
  """Points the detector reports: score >= threshold, or the top `budget`."""
  if (threshold is None) == (budget is None):
    raise ValueError("Pass exactly one of threshold or budget.")
  if threshold is not None:
    return scores >= threshold
  if not 0 <= budget <= len(scores):
    raise ValueError(f"budget must be in 0..{len(scores)}, got {budget}.")
  flagged = np.zeros(len(scores), bool)
  # Stable sort: ties go to the lower index, so the choice is deterministic.
  flagged[np.argsort(-scores, kind="stable")[:budget]] = True
  return flagged


def _split_counts(num_feedback: int, num_fp_candidates: int,
                  num_fn_candidates: int) -> tuple[int, int]:
  """Half FP (the odd one too), half FN; a side short of candidates cedes the rest."""
  num_fn = min(num_feedback // 2, num_fn_candidates)
  num_fp = min(num_feedback - num_fn, num_fp_candidates)
  num_fn = min(num_feedback - num_fp, num_fn_candidates)
  return num_fp, num_fn


def select_feedback(scores: np.ndarray, is_anomaly: np.ndarray,
                    num_feedback: int,
                    rng: Union[int, np.random.Generator, None] = None, *,
                    threshold: Optional[float] = None,
                    budget: Optional[int] = None,
                    strategy: str = "random") -> FeedbackLabels:
  """Simulates a user who labels num_feedback of the detector's mistakes.

  The detector flags scores >= threshold, or the `budget` highest scores
  (exactly one of the two). Candidates are flagged normals (FP) and unflagged
  anomalies (FN). Half the feedback goes to each (FP gets the odd one); if one
  side has too few candidates the other gets the rest, so fewer than
  num_feedback are returned only when there are fewer mistakes than that.

  strategy "random" picks uniformly among the candidates of each side (rng:
  numpy Generator or seed); "most_confident" picks the highest-scored FPs and
  the lowest-scored FNs, the mistakes a user is most likely to notice.
  """
  scores, is_anomaly = anomaly.scores_and_truth(scores, is_anomaly)
  if is_anomaly.dtype != np.bool_:
    raise ValueError(f"is_anomaly must be boolean, got {is_anomaly.dtype}.")
  if num_feedback < 0:
    raise ValueError(f"num_feedback must be >= 0, got {num_feedback}.")
  if strategy not in SELECTION_STRATEGIES:
    raise ValueError(f"Unknown strategy {strategy!r}; expected one of "
                     f"{SELECTION_STRATEGIES}.")
  flagged = _flagged(scores, threshold, budget)
  fp_candidates = np.flatnonzero(flagged & ~is_anomaly)
  fn_candidates = np.flatnonzero(~flagged & is_anomaly)
  num_fp, num_fn = _split_counts(num_feedback, len(fp_candidates),
                                 len(fn_candidates))
  if strategy == "random":
    generator = np.random.default_rng(rng)
    fp = generator.choice(fp_candidates, num_fp, replace=False)
    fn = generator.choice(fn_candidates, num_fn, replace=False)
  else:
    fp = fp_candidates[np.argsort(-scores[fp_candidates], kind="stable")][:num_fp]
    fn = fn_candidates[np.argsort(scores[fn_candidates], kind="stable")][:num_fn]
  return FeedbackLabels(np.sort(fp), np.sort(fn))


def _check_probability(p: np.ndarray, name: str, shape: tuple) -> np.ndarray:
  if p.shape != shape:
    raise ValueError(f"{name} has shape {p.shape}, expected {shape} like "
                     "scores.")
  if not np.all((p >= -_PROBABILITY_TOLERANCE) & (p <= 1 + _PROBABILITY_TOLERANCE)):
    raise ValueError(f"{name} must be probabilities in [0, 1]; found values "
                     f"in [{np.nanmin(p)}, {np.nanmax(p)}].")
  return np.clip(p, 0.0, 1.0)


def adjusted_scores(scores: np.ndarray, p_fp: np.ndarray, p_fn: np.ndarray,
                    s_max: float, score_floor: float = 0.0) -> np.ndarray:
  """floor + (s - floor) * (1 - p_fp) + (s_max - floor) * p_fn, elementwise.

  With score_floor = 0 this is the paper's s * (1 - p_fp) + s_max * p_fn.
  s_max: largest anomaly score on the training data. score_floor: a lower
  bound of all scores (0 for Bernoulli negative log-likelihoods; for Gaussian
  ones pass e.g. the minimum over training and test scores), which a sure FP
  is sent to. Raises if a score lies below it, where the guarantee that a
  sure FN ends at >= s_max would silently fail.
  """
  scores = np.asarray(scores, dtype=np.float64)
  if scores.ndim != 1:
    raise ValueError(f"scores must be 1-d, got shape {scores.shape}.")
  if not np.all(np.isfinite(scores)):
    raise ValueError("scores contain non-finite values.")
  p_fp = _check_probability(np.asarray(p_fp, np.float64), "p_fp", scores.shape)
  p_fn = _check_probability(np.asarray(p_fn, np.float64), "p_fn", scores.shape)
  if np.any(p_fp + p_fn > 1 + _PROBABILITY_TOLERANCE):
    raise ValueError("p_fp + p_fn exceeds 1 for some points; they must be the "
                     "probabilities of two classes of one softmax.")
  if not np.isfinite(s_max) or s_max < score_floor:
    raise ValueError(f"s_max={s_max} must be finite and >= score_floor="
                     f"{score_floor}.")
  if scores.size and scores.min() < score_floor:
    raise ValueError(
        f"A score ({scores.min()}) lies below score_floor={score_floor}; pass a "
        "score_floor no larger than the smallest score (Gaussian negative "
        "log-likelihoods can be negative).")
  return (score_floor + (scores - score_floor) * (1.0 - p_fp)
          + (s_max - score_floor) * p_fn)

