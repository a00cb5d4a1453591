"""Anomaly detection with user feedback (paper section 5), simulated.

Protocol (configs/feedback_mnist.py):

1. Data. One class (config.data.held_out_class, default digit 9) is the
   anomaly; it is removed from the training split. The test split is divided
   deterministically (config.feedback.split_seed), class by class, into a
   feedback pool (half of each class) and an evaluation set (the rest), so
   both hold anomalies.
2. Round 0. The semi-supervised model trains on the normal training data
   with a head of num_classes + 2 classes: the digits, false positive (FP)
   and false negative (FN); the last two start without points. Labels:
   config.data.num_labels / label_fraction of the normal points,
   class-balanced per seed. Anomaly score: -log Monte-Carlo reconstruction
   probability (config.anomaly_samples samples). We report the ROC AUC on the
   evaluation set, and score the feedback pool.
3. Simulated user. The detector flags points scoring at least the
   config.feedback.flag_quantile quantile of the training scores (a false
   alarm rate of 1 - flag_quantile on normal training data). For each n in
   config.feedback.num_feedback the user labels n of its mistakes in the pool
   (`feedback.select_feedback`: half flagged normals -> FP, half missed
   anomalies -> FN, picked by config.feedback.strategy), chosen per seed from
   that seed's round-0 scores, independently for each n.
4. Feedback rounds. The n points are appended to the training data with the
   FP/FN classes and join that seed's labeled pool; the unlabeled pool stays
   the normal training data (other seeds' feedback points are used by no
   one). Each round retrains FROM SCRATCH (same initialization as round 0):
   the comparison isolates what the feedback labels change, and every round
   stays an ordinary resumable train.train run. Evaluation: plain score AUC
   and the AUC of the adjusted score
     s' = s * (1 - p_fp) + s_max * p_fn
   (`feedback.adjusted_scores`; p_fp, p_fn the softmax probabilities of the
   FP/FN classes, s_max the largest score on the scored normal training
   points, score floor min(0, smallest score)). Round 0 reports both too.

Layout under workdir: config.json; round_0/ and feedback_<n>/, each a
train.train workdir plus round_results.json (written last: a round with it
is finished and skipped on rerun) and scores.npz (per-seed arrays);
results.json and results.md (rows: feedback labels; AUC mean ± sample std
over seeds). Rerunning resumes unfinished rounds from their checkpoints.
"""

import dataclasses
import os
from typing import Optional, Sequence

import jax
import ml_collections
import numpy as np

from ssvae import config_diff
from ssvae import data as data_lib
from ssvae import errors
from ssvae import experiment as experiment_lib
from ssvae import io_utils
from ssvae import model_spec
from ssvae import rng
from ssvae import steps
from ssvae import train
from ssvae import workdir as workdir_lib
from ssvae.detect import feedback
from ssvae.metrics import anomaly
from ssvae.metrics import batching
from ssvae.sweep import ledger

ROUND_RESULTS = "round_results.json"
ROUND_SCORES = "scores.npz"
# Fields that may change between a run and its continuation: training
# bookkeeping and which feedback rounds to run.
_CONTINUABLE_FIELDS = (
    "train.num_steps", "train.eval_every", "train.checkpoint_every",
    "train.steps_per_call", "train.eval_batch_size", "feedback.num_feedback")
# fold_in indices, within the seed's "feedback" stream, of the Monte-Carlo
# noise of each scored set.
_EVAL_KEY, _POOL_KEY, _TRAIN_KEY = 0, 1, 2


def round_name(num_feedback: int) -> str:
  return "round_0" if num_feedback == 0 else f"feedback_{num_feedback}"


# ------------------------------------------------------------------ checks


def check_config(config: ml_collections.ConfigDict) -> None:
  """Raises ConfigError naming the field of a setting the protocol rejects."""
  fb = config.get("feedback")
  if fb is None:
    raise errors.ConfigError(
        "config.feedback is missing (see "
        "configs/feedback_mnist.py).")
  if config.model.variant != model_spec.SEMI_SUPERVISED:
    raise errors.ConfigError(
        f"config.model.variant must be 'semi_supervised' (feedback needs the "
        f"class head and the decoder), got {config.model.variant!r}.")
  if config.data.held_out_class < 0:
    raise errors.ConfigError(
        "config.data.held_out_class must name the anomaly "
        f"class, got {config.data.held_out_class}.")
  counts = tuple(fb.num_feedback)
  if not counts or any(not isinstance(n, int) or n < 1 for n in counts):
    raise errors.ConfigError(
        f"config.feedback.num_feedback must be positive ints, "
        f"got {counts!r}.")
  if len(set(counts)) != len(counts):
    raise errors.ConfigError(
        f"config.feedback.num_feedback has repeats: {counts}.")
  if not 0.0 < fb.flag_quantile < 1.0:
    raise errors.ConfigError(
        f"config.feedback.flag_quantile must be in (0, 1), got "
        f"{fb.flag_quantile}.")
  if fb.strategy not in feedback.SELECTION_STRATEGIES:
    raise errors.ConfigError(
        f"config.feedback.strategy must be one of "
        f"{feedback.SELECTION_STRATEGIES}, got {fb.strategy!r}.")
  if fb.num_train_scored != -1 and fb.num_train_scored < 1:
    raise errors.ConfigError(
        f"config.feedback.num_train_scored must be positive or "
        f"-1 (all), got {fb.num_train_scored}.")


def _claim_workdir(config, workdir: str) -> None:
  """Writes workdir/config.json, refusing a workdir of another experiment."""
  config_diff.check_same_experiment(workdir, config,
                                    ignore=_CONTINUABLE_FIELDS,
                                    what="a feedback experiment")
  io_utils.atomic_write_text(os.path.join(workdir, "config.json"),
                             config.to_json_best_effort(indent=2) + "\n")


# -------------------------------------------------------------------- data


@dataclasses.dataclass(frozen=True)
class PoolEvalSplit:
  """Rows of the test split: feedback pool and evaluation set (sorted)."""
  pool: np.ndarray
  eval: np.ndarray


def split_test_set(y: np.ndarray, anomaly_class: int,
                   seed: int) -> PoolEvalSplit:
  """Class by class, a random half (the smaller one) to the pool, rest to eval.

  Raises ValueError when the anomaly class has fewer than 2 test points.
  """
  y = np.asarray(y)
  if np.sum(y == anomaly_class) < 2:
    raise errors.ConfigError(
        f"The test split has {np.sum(y == anomaly_class)} points of anomaly "
        f"class {anomaly_class}; the pool and the evaluation set need one "
        "each.")
  rng = np.random.default_rng(seed)
  pool = []
  for cls in np.unique(y):
    rows = rng.permutation(np.flatnonzero(y == cls))
    pool.append(rows[:len(rows) // 2])
  pool = np.sort(np.concatenate(pool))
  return PoolEvalSplit(pool=pool, eval=np.setdiff1d(np.arange(len(y)), pool))


def build_round_experiment(config, dataset: data_lib.Dataset,
                           split: PoolEvalSplit,
                           labels: Sequence[feedback.FeedbackLabels],
                           devices=None) -> experiment_lib.Experiment:
  """The experiment of one round: normal data plus each seed's feedback.

  dataset: the original data set (every class in train; the experiment
  removes config.data.held_out_class). labels[s]: seed s's feedback, indices
  into the pool. The train split becomes [normal points..., seed 0's FP and
  FN points, seed 1's, ...], labeled with the extended classes (FP =
  num_classes, FN = num_classes + 1); seed s labels its normal subset and its
  own feedback block, and draws unlabeled points from the normal data only.
  """
  num_classes = dataset.num_classes
  if len(labels) != config.train.num_seeds:
    raise ValueError(f"Need feedback for {config.train.num_seeds} seeds, got "
                     f"{len(labels)}.")
  if len({len(fb) for fb in labels}) > 1:
    raise errors.ConfigError(
        f"Seeds got different numbers of feedback points "
        f"({[len(fb) for fb in labels]}): the pool has too few mistakes for "
        "the requested count; lower config.feedback.num_feedback.")
  pool_y = dataset.test.y[split.pool]
  blocks_x, blocks_y = [], []
  for fb in labels:
    rows = np.concatenate([fb.false_positive_idx, fb.false_negative_idx])
    pool_y_extended, extended_classes = feedback.extend_labels(
        pool_y, num_classes, fb)
    blocks_x.append(dataset.test.x[split.pool[rows]])
    blocks_y.append(pool_y_extended[rows].astype(dataset.train.y.dtype))
  train_split = data_lib.Split(
      x=np.concatenate([dataset.train.x, *blocks_x]),
      y=np.concatenate([dataset.train.y, *blocks_y]))
  extended = dataclasses.replace(
      dataset, train=train_split, num_classes=extended_classes,
      test=data_lib.Split(x=dataset.test.x[split.eval],
                          y=dataset.test.y[split.eval]))

  anomaly_class = config.data.held_out_class
  normal_y = dataset.train.y[dataset.train.y != anomaly_class]
  num_normal = len(normal_y)
  seeds = [config.seed + s for s in range(config.train.num_seeds)]
  normal_labeled = [experiment_lib.labeled_indices_from_config(config, normal_y,
                                                     num_classes, s)
                    for s in seeds]
  starts = num_normal + np.cumsum([0] + [len(fb) for fb in labels[:-1]])
  labeled = [np.concatenate([idx, start + np.arange(len(fb))])
             for idx, start, fb in zip(normal_labeled, starts, labels)]
  exp = experiment_lib.experiment_from_dataset(
      config, extended, devices=devices, labeled_indices=labeled)
  _check_layout(exp, num_normal, starts, blocks_y)
  unlabeled = np.stack([np.setdiff1d(np.arange(num_normal), idx)
                        for idx in normal_labeled]).astype(np.int32)
  pools = data_lib.Pools(labeled=exp.pools.labeled, unlabeled=unlabeled)
  return dataclasses.replace(exp, pools=pools)


def _check_layout(exp, num_normal: int, starts, blocks_y) -> None:
  """The hold-out inside experiment_from_dataset kept our row layout."""
  y = exp.dataset.train.y
  expected = num_normal + sum(len(b) for b in blocks_y)
  if len(y) != expected or any(
      not np.array_equal(y[start:start + len(block)], block)
      for start, block in zip(starts, blocks_y)):
    raise RuntimeError("The training split does not have the expected layout "
                       "(normal points, then feedback blocks).")


# ----------------------------------------------------------------- scoring


def _class_logits_fn(model, state_i):
  encode_fn, _ = steps.model_fns(model, state_i)
  return jax.jit(lambda x: encode_fn(x)[2])


def _train_rows_scored(num_normal: int, limit: int, seed: int) -> np.ndarray:
  if limit == -1 or limit >= num_normal:
    return np.arange(num_normal)
  rng = np.random.default_rng(seed)
  return np.sort(rng.choice(num_normal, size=limit, replace=False))


def score_round(exp, state, num_normal: int, pool_x: Optional[np.ndarray],
                base_num_classes: int) -> dict:
  """Per-seed scores of one round: {name: np.ndarray [S, ...]}.

  eval_scores, p_fp, p_fn, adjusted (on the evaluation set = exp's test
  split), train_max (s_max), flag_threshold, and pool_scores if pool_x.
  """
  config = exp.config
  fb = config.feedback
  num_samples = config.anomaly_samples
  batch_size = config.train.eval_batch_size
  likelihood = exp.dataset.likelihood
  train_rows = _train_rows_scored(num_normal, fb.num_train_scored,
                                  fb.split_seed)
  out = {k: [] for k in ("eval_scores", "p_fp", "p_fn", "adjusted",
                         "train_max", "flag_threshold", "pool_scores")}
  for s, seed in enumerate(exp.seeds):
    state_i = steps.seed_slice(state, s)
    encode_fn, decode_fn = steps.scoring_fns(exp.model, state_i)
    key = rng.seed_key(seed, "feedback")

    def scores(x, offset):
      return anomaly.anomaly_scores(
          encode_fn, decode_fn, x, jax.random.fold_in(key, offset),
          num_samples=num_samples, likelihood=likelihood,
          batch_size=batch_size)

    eval_scores = scores(exp.dataset.test.x, _EVAL_KEY)
    train_scores = scores(exp.dataset.train.x[train_rows], _TRAIN_KEY)
    logits = batching.map_in_batches(
        _class_logits_fn(exp.model, state_i), exp.dataset.test.x, batch_size)
    p_fp, p_fn = (np.asarray(p) for p in feedback.feedback_probabilities(
        logits, base_num_classes))
    s_max = float(train_scores.max())
    floor = min(0.0, float(eval_scores.min()), float(train_scores.min()))
    out["eval_scores"].append(eval_scores)
    out["p_fp"].append(p_fp)
    out["p_fn"].append(p_fn)
    out["adjusted"].append(feedback.adjusted_scores(
        eval_scores, p_fp, p_fn, s_max, score_floor=floor))
    out["train_max"].append(s_max)
    out["flag_threshold"].append(
        float(np.quantile(train_scores, fb.flag_quantile)))
    if pool_x is not None:
      out["pool_scores"].append(scores(pool_x, _POOL_KEY))
  if pool_x is None:
    del out["pool_scores"]
  return {k: np.asarray(v) for k, v in out.items()}


def _save_npz(path: str, arrays: dict) -> None:
  tmp = path + ".tmp.npz"
  np.savez(tmp, **arrays)
  os.replace(tmp, path)


# ------------------------------------------------------------------ rounds


def select_per_seed(round0_scores: dict, pool_is_anomaly: np.ndarray,
                    num_feedback: int, seeds: Sequence[int],
                    strategy: str) -> list[feedback.FeedbackLabels]:
  """Each seed's simulated user, on that seed's round-0 pool scores."""
  return [feedback.select_feedback(
      round0_scores["pool_scores"][s], pool_is_anomaly, num_feedback,
      rng=np.random.default_rng((seed, num_feedback)),
      threshold=float(round0_scores["flag_threshold"][s]), strategy=strategy)
          for s, seed in enumerate(seeds)]


def run_round(config, workdir: str, dataset: data_lib.Dataset,
              split: PoolEvalSplit, num_feedback: int,
              labels: Sequence[feedback.FeedbackLabels], *,
              devices=None) -> dict:
  """Trains (or resumes) one round, scores it and writes its results."""
  directory = os.path.join(workdir, round_name(num_feedback))
  config = round_config(config, num_feedback)
  exp = build_round_experiment(config, dataset, split, labels, devices)
  # Explicit labeled subsets: no validation split, the last state is scored.
  state = train.train(config, directory, experiment=exp).last
  anomaly_class = config.data.held_out_class
  num_normal = int(np.sum(dataset.train.y != anomaly_class))
  pool_x = dataset.test.x[split.pool] if num_feedback == 0 else None
  scores = score_round(exp, state, num_normal, pool_x, dataset.num_classes)
  is_anomaly = exp.dataset.test.y == anomaly_class
  results = {
      "num_feedback": num_feedback,
      "seeds": list(exp.seeds),
      "step": int(np.asarray(state.step)[0]),
      "num_fp": [len(fb.false_positive_idx) for fb in labels],
      "num_fn": [len(fb.false_negative_idx) for fb in labels],
      "false_positive_idx": [fb.false_positive_idx for fb in labels],
      "false_negative_idx": [fb.false_negative_idx for fb in labels],
      "auc": [anomaly.roc_auc(s, is_anomaly) for s in scores["eval_scores"]],
      "auc_adjusted": [anomaly.roc_auc(s, is_anomaly)
                       for s in scores["adjusted"]],
      "s_max": scores["train_max"],
      "flag_threshold": scores["flag_threshold"],
  }
  _save_npz(os.path.join(directory, ROUND_SCORES), scores)
  path = os.path.join(directory, ROUND_RESULTS)
  io_utils.write_json(path, results)
  return io_utils.read_json(path)  # Plain lists, as a rerun reads them.


def round_config(config, num_feedback: int) -> ml_collections.ConfigDict:
  """The config a round trains with: num_feedback = (this round's n,).

  So a round's config.json describes that round alone, and adding rounds to
  config.feedback.num_feedback never conflicts with a round in progress.
  """
  config = ml_collections.ConfigDict(config.to_dict())
  config.feedback.num_feedback = (num_feedback,) if num_feedback else ()
  return config


def _finished(workdir: str, num_feedback: int) -> Optional[dict]:
  path = os.path.join(workdir, round_name(num_feedback), ROUND_RESULTS)
  return io_utils.read_json(path) if os.path.exists(path) else None


def load_round_scores(workdir: str, num_feedback: int) -> dict:
  with np.load(os.path.join(workdir, round_name(num_feedback),
                            ROUND_SCORES)) as npz:
    return {k: npz[k] for k in npz.files}


def run_feedback_experiment(config: ml_collections.ConfigDict, workdir: str,
                            *, command: str = "", devices=None) -> dict:
  """Runs every unfinished round and writes results.json and results.md.

  The config and data are checked, and workdir claimed (locked), before
  anything is written.
  """
  check_config(config)
  dataset = data_lib.load_dataset(config.data)
  split = split_test_set(dataset.test.y, config.data.held_out_class,
                         config.feedback.split_seed)
  with workdir_lib.claimed(workdir, lock=jax.process_index() == 0):
    _claim_workdir(config, workdir)
    return _run_rounds(config, workdir, dataset, split, command, devices)


def _run_rounds(config, workdir: str, dataset: data_lib.Dataset,
                split: PoolEvalSplit, command: str, devices) -> dict:
  """run_feedback_experiment on a claimed workdir."""
  anomaly_class = config.data.held_out_class
  seeds = [config.seed + s for s in range(config.train.num_seeds)]
  no_feedback = [feedback.FeedbackLabels(np.zeros(0, int), np.zeros(0, int))
                 for _ in seeds]
  rounds = [_finished(workdir, 0)]
  if rounds[0] is None:
    rounds[0] = run_round(config, workdir, dataset, split, 0, no_feedback,
                          devices=devices)
  round0_scores = load_round_scores(workdir, 0)
  pool_is_anomaly = dataset.test.y[split.pool] == anomaly_class
  for n in config.feedback.num_feedback:
    done = _finished(workdir, n)
    if done is None:
      labels = select_per_seed(round0_scores, pool_is_anomaly, n, seeds,
                               config.feedback.strategy)
      done = run_round(config, workdir, dataset, split, n, labels,
                       devices=devices)
    rounds.append(done)
  summary = {**ledger.current_provenance(command), "data": config.data.name,
             "held_out_class": anomaly_class,
             "num_pool": len(split.pool), "num_eval": len(split.eval),
             "num_eval_anomalies": int(np.sum(
                 dataset.test.y[split.eval] == anomaly_class)),
             "std": ledger.STD_NOTE,
             "rounds": [{k: r[k] for k in ("num_feedback", "seeds", "num_fp",
                                           "num_fn", "auc", "auc_adjusted",
                                           "s_max")} for r in rounds]}
  io_utils.write_json(os.path.join(workdir, "results.json"), summary)
  io_utils.atomic_write_text(os.path.join(workdir, "results.md"),
                             results_markdown(summary))
  return summary


def results_markdown(summary: dict) -> str:
  """The results table: one row per number of feedback labels."""
  lines = [
      f"# Anomaly detection with feedback ({summary['data']}, anomaly class "
      f"{summary['held_out_class']})", "",
      f"- Command: `{summary['command']}`",
      f"- Commit: `{summary['git_commit']}`",
      f"- Machine: {summary['machine']}",
      f"- Evaluation set: {summary['num_eval']} test points "
      f"({summary['num_eval_anomalies']} anomalies); feedback pool: "
      f"{summary['num_pool']}.",
      f"- Entries: {summary['std']}. AUC uses the plain score; adjusted AUC "
      "uses s * (1 - p_fp) + s_max * p_fn.", "",
      "| feedback labels | FP labels | FN labels | AUC | adjusted AUC |",
      "|---|---|---|---|---|"]
  cell = lambda values: ledger.format_stats(ledger.metric_stats(values))
  for r in summary["rounds"]:
    lines.append(
        f"| {r['num_feedback']} | {np.mean(r['num_fp']):g} | "
        f"{np.mean(r['num_fn']):g} | {cell(r['auc'])} | "
        f"{cell(r['auc_adjusted'])} |")
  return "\n".join(lines) + "\n"
