"""Anomaly detection with a trained run: score new data, threshold, feedback.

A Detector is one seed of a trained run (its validation-selected or last
state) plus what is fixed on top of it, saved as DETECTOR_FILE in the run's
workdir so that later calls reuse it:

  * the threshold, set on the run's validation split, which holds normal
    data only (held out of training; without the anomaly class when the run
    held one out): a percentile of the validation scores, or the score above
    which a target fraction of them lies (the false-positive rate);
  * after feedback, the fine-tuned model (ssvae.detect.finetune), whose
    false-positive and false-negative class probabilities adjust the score
    as in the feedback experiment, s' = s (1 - p_fp) + s_max p_fn, with
    s_max the largest validation score.

Score: -log of the Monte-Carlo reconstruction probability (ssvae.metrics.anomaly);
higher is more anomalous, and a point is flagged when its score exceeds the
threshold.
"""

import dataclasses
import math
import os
from typing import Any, Optional

import jax
import numpy as np

from ssvae import errors
from ssvae import experiment as experiment_lib
from ssvae import io_utils
from ssvae import model_spec
from ssvae import rng
from ssvae import run_dir
from ssvae import steps
from ssvae.detect import feedback
from ssvae.detect import finetune
from ssvae.metrics import anomaly
from ssvae.metrics import batching

DETECTOR_FILE = "detector.json"
STATES = ("selected", "last")
PERCENTILE = "percentile"
TARGET_FPR = "target_fpr"
THRESHOLD_RULES = (PERCENTILE, TARGET_FPR)


@dataclasses.dataclass(frozen=True)
class Threshold:
  """Flag points scoring above value.

  rule, level: how value was set: PERCENTILE (level in (0, 100)) or
  TARGET_FPR (level in (0, 1)), on num_validation normal validation points,
  of which the fraction validation_fpr scores above value.
  """
  value: float
  rule: str
  level: float
  num_validation: int
  validation_fpr: float


@dataclasses.dataclass(frozen=True)
class FeedbackInfo:
  """A fine-tuning on feedback: its run directory (relative to the workdir),
  what it learned from, and the constants of the adjusted score."""
  directory: str
  num_false_positive: int
  num_false_negative: int
  num_steps: int
  s_max: float
  score_floor: float


@dataclasses.dataclass(frozen=True)
class Settings:
  """What DETECTOR_FILE holds."""
  state: str = "selected"
  seed_index: int = 0
  num_samples: int = 10
  threshold: Optional[Threshold] = None
  feedback: Optional[FeedbackInfo] = None


@dataclasses.dataclass(frozen=True)
class Detector:
  """A loaded detector.

  base, base_state: the trained run (experiment, seed-stacked state).
  model, state: what scores: one seed of the run, or its fine-tuning.
  """
  workdir: str
  settings: Settings
  base: experiment_lib.Experiment
  base_state: steps.TrainState
  model: Any
  state: steps.TrainState
  batch_size: int

  @property
  def seed(self) -> int:
    return self.base.seeds[self.settings.seed_index]

  @property
  def num_classes(self) -> int:
    """Classes of the task, without the feedback classes."""
    return self.base.dataset.num_classes


@dataclasses.dataclass(frozen=True)
class Scores:
  """Per-point outputs, each [N].

  score: what the threshold applies to (adjusted after feedback).
  raw_score: -log reconstruction probability.
  predicted_class: argmax of the task's classes (None without a classifier).
  p_false_positive, p_false_negative: after feedback only.
  """
  score: np.ndarray
  raw_score: np.ndarray
  predicted_class: Optional[np.ndarray] = None
  p_false_positive: Optional[np.ndarray] = None
  p_false_negative: Optional[np.ndarray] = None


# --------------------------------------------------------------- thresholds


def fit_threshold(normal_scores: np.ndarray, rule: str,
                  level: float) -> Threshold:
  """A threshold from scores of normal points.

  PERCENTILE: numpy's percentile `level` of the scores. TARGET_FPR: the
  (floor(level * n) + 1)-th largest score, so at most level * n of the n
  points lie above it; for a new normal point exchangeable with them, the
  chance of lying above is (floor(level * n) + 1) / (n + 1).
  """
  check_threshold_rule(rule, level)
  scores = np.sort(np.asarray(normal_scores, np.float64))
  n = len(scores)
  if scores.ndim != 1 or n == 0 or not np.all(np.isfinite(scores)):
    raise errors.UserInputError(
        "A threshold needs a non-empty 1-d array of finite scores of normal "
        "points.")
  if rule == PERCENTILE:
    value = float(np.percentile(scores, level))
  else:
    num_above = math.floor(level * n)
    if num_above == 0:
      raise errors.UserInputError(
          f"target_fpr={level} is below 1/{n}: the {n} validation points "
          "cannot resolve it; use a larger target or a larger "
          "data.validation_size.")
    value = float(scores[n - 1 - num_above])
  return Threshold(value=value, rule=rule, level=float(level),
                   num_validation=n,
                   validation_fpr=float(np.mean(scores > value)))


def check_threshold_rule(rule: str, level: float) -> None:
  """UserInputError for an unknown rule or a level outside its range."""
  if rule == PERCENTILE:
    if not 0 < level < 100:
      raise errors.UserInputError(
          f"threshold_percentile must be in (0, 100), got {level}.")
  elif rule == TARGET_FPR:
    if not 0 < level < 1:
      raise errors.UserInputError(
          f"target_fpr must be in (0, 1), got {level}.")
  else:
    raise errors.UserInputError(
        f"Unknown threshold rule {rule!r}; expected one of "
        f"{THRESHOLD_RULES}.")


def threshold_request(percentile: Optional[float],
                      target_fpr: Optional[float]) -> Optional[tuple]:
  """(rule, level) from a percentile or a target FPR (at most one), or
  None; the level is checked here, before any scoring."""
  if percentile is not None and target_fpr is not None:
    raise errors.UserInputError(
        "Pass a threshold percentile or a target FPR, not both.")
  request = ((PERCENTILE, percentile) if percentile is not None
             else (TARGET_FPR, target_fpr) if target_fpr is not None
             else None)
  if request is not None:
    check_threshold_rule(*request)
  return request


def describe(threshold: Threshold) -> str:
  name = ("percentile" if threshold.rule == PERCENTILE else "target FPR")
  return (f"threshold {threshold.value:.6g} ({name} {threshold.level:g} on "
          f"{threshold.num_validation} normal validation points, of which "
          f"{threshold.validation_fpr:.2%} score above it)")


# ------------------------------------------------------------ load and save


def check_can_score(variant: str, source: str) -> None:
  """The score needs a decoder: the supervised sibling has none."""
  if not model_spec.has_decoder(variant):
    raise errors.UserInputError(
        f"{source} is a {variant!r} run: it has no decoder, so it cannot "
        "score reconstruction probability. Use a 'semi_supervised' or "
        "'unsupervised' run.")


def _check_fields(value, cls, where: str, path: str, checks: dict) -> dict:
  """value, a JSON object with cls's fields (all but its optional
  threshold and feedback are required), each passing its check:
  {field: (predicate, what it must be)}; WorkdirError naming the file and
  field otherwise."""
  if not isinstance(value, dict):
    raise errors.WorkdirError(
        f"{path}: {'the file' if where == 'it' else where} must be a JSON "
        f"object, got {value!r}; fix it or delete the file to start over.")
  fields = [f.name for f in dataclasses.fields(cls)]
  required = [f for f in fields if f not in ("threshold", "feedback")]
  unknown = sorted(set(value) - set(fields))
  missing = [f for f in required if f not in value]
  if unknown or missing:
    raise errors.WorkdirError(
        f"{path}: {where} "
        + (f"has unknown fields {unknown}" if unknown
           else f"lacks the fields {missing}")
        + "; it is not a detector file this version wrote. Delete it to "
        "start over.")
  for name, (ok, wanted) in checks.items():
    if name in value and not ok(value[name]):
      field = name if where == "it" else f"{where}.{name}"
      raise errors.WorkdirError(
          f"{path}: {field} must be {wanted}, got {value[name]!r}; fix it or "
          "delete the file to start over.")
  return value


def _threshold_level_ok(threshold: dict) -> bool:
  low_high = {PERCENTILE: (0, 100), TARGET_FPR: (0, 1)}[threshold["rule"]]
  level = threshold["level"]
  return io_utils.is_finite_number(level) and low_high[0] < level < low_high[1]


def _settings_from_json(value, path: str) -> Settings:
  """The Settings DETECTOR_FILE holds; every field checked (type, range)."""
  _check_fields(value, Settings, "it", path, {
      "state": (lambda v: v in STATES, f"one of {STATES}"),
      "seed_index": (lambda v: io_utils.is_int(v) and v >= 0,
                     "an integer >= 0"),
      "num_samples": (lambda v: io_utils.is_int(v) and v >= 1,
                      "an integer >= 1"),
  })
  threshold, info = value.get("threshold"), value.get("feedback")
  if threshold is not None:
    _check_fields(threshold, Threshold, "threshold", path, {
        "value": (io_utils.is_finite_number, "a finite number"),
        "rule": (lambda v: v in THRESHOLD_RULES,
                 f"one of {THRESHOLD_RULES}"),
        "num_validation": (lambda v: io_utils.is_int(v) and v >= 1,
                           "an integer >= 1"),
        "validation_fpr": (
            lambda v: io_utils.is_finite_number(v) and 0 <= v <= 1,
            "a number in [0, 1]"),
    })
    if not _threshold_level_ok(threshold):
      wanted = ("in (0, 100)" if threshold["rule"] == PERCENTILE
                else "in (0, 1)")
      raise errors.WorkdirError(
          f"{path}: threshold.level must be a number {wanted} for rule "
          f"{threshold['rule']!r}, got {threshold['level']!r}; fix it or "
          "delete the file to start over.")
  if info is not None:
    _check_fields(info, FeedbackInfo, "feedback", path, {
        "directory": (lambda v: isinstance(v, str) and v
                      and not os.path.isabs(v)
                      and ".." not in v.replace("\\", "/").split("/"),
                      "a directory name inside the workdir"),
        "num_false_positive": (lambda v: io_utils.is_int(v) and v >= 0,
                               "an integer >= 0"),
        "num_false_negative": (lambda v: io_utils.is_int(v) and v >= 0,
                               "an integer >= 0"),
        "num_steps": (lambda v: io_utils.is_int(v) and v >= 1,
                      "an integer >= 1"),
        "s_max": (io_utils.is_finite_number, "a finite number"),
        "score_floor": (io_utils.is_finite_number, "a finite number"),
    })
  return Settings(
      state=value["state"], seed_index=value["seed_index"],
      num_samples=value["num_samples"],
      threshold=None if threshold is None else Threshold(**threshold),
      feedback=None if info is None else FeedbackInfo(**info))


def read_settings(workdir: str) -> Optional[Settings]:
  path = os.path.join(workdir, DETECTOR_FILE)
  if not os.path.exists(path):
    return None
  return _settings_from_json(io_utils.read_json(path), path)


def save(detector: Detector) -> str:
  """Writes DETECTOR_FILE into the run's workdir; returns its path."""
  path = os.path.join(detector.workdir, DETECTOR_FILE)
  io_utils.write_json(path, dataclasses.asdict(detector.settings))
  return path


def _requested_settings(saved: Optional[Settings], default_samples: int,
                        state: Optional[str], seed_index: Optional[int],
                        num_samples: Optional[int]) -> Settings:
  """The saved settings if they fit the request, else fresh ones."""
  requested = Settings(
      state=state or (saved.state if saved else "selected"),
      seed_index=(seed_index if seed_index is not None
                  else saved.seed_index if saved else 0),
      num_samples=(num_samples or (saved.num_samples if saved
                                   else default_samples)))
  if saved and (saved.state, saved.seed_index, saved.num_samples) == (
      requested.state, requested.seed_index, requested.num_samples):
    return saved
  return requested


def load(workdir: str, *, state: Optional[str] = None,
         seed_index: Optional[int] = None, num_samples: Optional[int] = None,
         batch_size: Optional[int] = None, devices=None) -> Detector:
  """The detector of a trained run.

  Reuses DETECTOR_FILE (threshold, feedback) unless state, seed_index or
  num_samples ask for something else, which starts a fresh detector without
  a threshold. Defaults: the selected state of seed index 0,
  config.anomaly_samples Monte-Carlo samples, config.train.eval_batch_size.
  """
  config = run_dir.load_config(workdir)
  check_can_score(config.model.variant, workdir)
  if state is not None and state not in STATES:
    raise errors.UserInputError(
        f"state must be one of {STATES}, got {state!r}.")
  if num_samples is not None and num_samples < 1:
    raise errors.UserInputError(
        f"num_samples must be positive, got {num_samples}.")
  if batch_size is not None and batch_size < 1:
    raise errors.UserInputError(
        f"batch_size must be positive, got {batch_size}.")
  settings = _requested_settings(read_settings(workdir),
                                 config.anomaly_samples, state, seed_index,
                                 num_samples)
  num_seeds = config.train.num_seeds
  if not 0 <= settings.seed_index < num_seeds:
    raise errors.UserInputError(
        f"seed_index={settings.seed_index} is outside 0..{num_seeds - 1} "
        f"(the run trained {num_seeds} seed(s)).")
  devices = devices or jax.devices()[:1]
  base, base_state = run_dir.load(workdir, devices, which=settings.state)
  if settings.feedback is None:
    model = base.model
    one_seed = steps.seed_slice(base_state, settings.seed_index)
  else:
    tuned, one_seed = finetune.load_finetuned(
        base, settings.seed_index,
        os.path.join(workdir, settings.feedback.directory), devices)
    model = tuned.model
  return Detector(workdir=workdir, settings=settings, base=base,
                  base_state=base_state, model=model, state=one_seed,
                  batch_size=batch_size or config.train.eval_batch_size)


# ------------------------------------------------------------------ scoring


def _raw_outputs(detector: Detector, x: np.ndarray, progress: bool):
  """(-log reconstruction probability [N], class logits [N, K] or None)."""
  encode_fn, decode_fn = steps.scoring_fns(detector.model, detector.state)
  raw = anomaly.anomaly_scores(
      encode_fn, decode_fn, x, rng.seed_key(detector.seed, "anomaly"),
      num_samples=detector.settings.num_samples,
      likelihood=detector.base.dataset.likelihood,
      batch_size=detector.batch_size, progress=progress)
  if not model_spec.has_classifier(detector.base.config.model.variant):
    return raw, None
  classify_fn, _ = steps.model_fns(detector.model, detector.state)
  logits = batching.map_in_batches(
      jax.jit(lambda batch: classify_fn(batch)[2]), x, detector.batch_size)
  return raw, logits


def _scores(detector: Detector, raw: np.ndarray,
            logits: Optional[np.ndarray]) -> Scores:
  if logits is None:
    return Scores(score=raw, raw_score=raw)
  predicted = np.argmax(logits[:, :detector.num_classes], axis=-1)
  info = detector.settings.feedback
  if info is None:
    return Scores(score=raw, raw_score=raw, predicted_class=predicted)
  p_fp, p_fn = (np.asarray(p) for p in feedback.feedback_probabilities(
      logits, detector.num_classes))
  # A score below the saved floor (possible for Gaussian likelihoods) lowers
  # it, as feedback.adjusted_scores requires.
  floor = min(info.score_floor, float(raw.min()))
  adjusted = feedback.adjusted_scores(raw, p_fp, p_fn, info.s_max,
                                      score_floor=floor)
  return Scores(score=adjusted, raw_score=raw, predicted_class=predicted,
                p_false_positive=p_fp, p_false_negative=p_fn)


def score(detector: Detector, x: np.ndarray,
          progress: bool = False) -> Scores:
  """Scores x [N, *input_shape] in batches (progress: a progress bar)."""
  return _scores(detector, *_raw_outputs(detector, x, progress))


def flags(detector: Detector, scores: Scores) -> np.ndarray:
  """Boolean [N]: score above the threshold."""
  if detector.settings.threshold is None:
    raise errors.UserInputError(
        "The detector has no threshold yet; set one with with_threshold "
        "(--threshold_percentile or --target_fpr).")
  return scores.score > detector.settings.threshold.value


def _validation_x(detector: Detector) -> np.ndarray:
  validation = detector.base.dataset.validation
  if validation is None:
    raise errors.UserInputError(
        f"The run in {detector.workdir} has no validation split "
        "(data.validation_size=0), so there are no held-out normal points "
        "to set a threshold on; train with a validation split.")
  return validation.x


def with_threshold(detector: Detector, rule: str, level: float,
                   progress: bool = False) -> Detector:
  """The detector with a threshold set on its validation scores."""
  validation_scores = score(detector, _validation_x(detector), progress).score
  threshold = fit_threshold(validation_scores, rule, level)
  return dataclasses.replace(detector, settings=dataclasses.replace(
      detector.settings, threshold=threshold))


# ----------------------------------------------------------------- feedback


def with_feedback(detector: Detector, x: np.ndarray,
                  labels: feedback.FeedbackLabels, num_steps: int,
                  rule: str, level: float,
                  progress: bool = False) -> Detector:
  """Fine-tunes on feedback about rows of x, then sets the threshold by
  (rule, level) on the adjusted validation scores.

  Earlier feedback of this detector is kept: the fine-tuning starts from the
  trained run again, on all feedback points so far. Its run directory is
  named by the points' content hash, so repeating a call resumes it.
  """
  finetune.check_can_take_feedback(detector.base.config.model.variant)
  labels.check_in_range(len(x))
  points = finetune.points_from_labels(x, labels, detector.num_classes)
  info = detector.settings.feedback
  if info is not None:
    points = finetune.concat_points(finetune.load_points(
        os.path.join(detector.workdir, info.directory)), points)
  directory = f"feedback_{points.digest()}"
  tuned, state = finetune.finetune(
      detector.base, detector.base_state, detector.settings.seed_index,
      points, os.path.join(detector.workdir, directory), num_steps,
      devices=list(detector.base.mesh.devices.flat))
  tuned_detector = dataclasses.replace(
      detector, model=tuned.model, state=state,
      settings=dataclasses.replace(detector.settings, feedback=None))
  raw, logits = _raw_outputs(tuned_detector, _validation_x(detector),
                             progress)
  num_fp = int(np.sum(points.label
                      == feedback.false_positive_class(detector.num_classes)))
  info = FeedbackInfo(
      directory=directory, num_false_positive=num_fp,
      num_false_negative=len(points) - num_fp, num_steps=num_steps,
      s_max=float(raw.max()), score_floor=min(0.0, float(raw.min())))
  tuned_detector = dataclasses.replace(
      tuned_detector, settings=dataclasses.replace(
          detector.settings, feedback=info))
  threshold = fit_threshold(_scores(tuned_detector, raw, logits).score,
                            rule, level)
  return dataclasses.replace(tuned_detector, settings=dataclasses.replace(
      tuned_detector.settings, threshold=threshold))


# ---------------------------------------------------------------------- csv


def write_csv(path: str, scores: Scores, flagged: np.ndarray) -> None:
  """One row per point: index, score, flag (0/1), and the class prediction
  and feedback columns where the detector has them."""
  columns = {"index": np.arange(len(scores.score)), "score": scores.score,
             "flag": flagged.astype(int)}
  if scores.predicted_class is not None:
    columns["predicted_class"] = scores.predicted_class
  if scores.p_false_positive is not None:
    columns["raw_score"] = scores.raw_score
    columns["p_false_positive"] = scores.p_false_positive
    columns["p_false_negative"] = scores.p_false_negative

  def cell(value):
    if isinstance(value, (float, np.floating)):
      return f"{value:.8g}"
    return str(value)

  rows = zip(*columns.values())
  text = [",".join(columns)] + [",".join(cell(v) for v in row) for row in rows]
  io_utils.atomic_write_text(path, "\n".join(text) + "\n")
