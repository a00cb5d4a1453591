"""Evaluation of a seed-stacked train state on the validation or test split.

`make_evaluator` gives the periodic metrics (accuracy, log loss, ELBO terms);
`final_metrics` adds what only the end of a run needs (anomaly AUC, betaVAE
score when config.beta_vae is set).
"""

import functools

import jax
import numpy as np

from ssvae import anomaly
from ssvae import disentanglement_eval
from ssvae import parallel
from ssvae import rng
from ssvae import steps
from ssvae import types

SPLITS = ("test", "validation")


def make_evaluator(exp, split: str = "test"):
  """Returns `evaluate(state) -> {metric: np.ndarray [S]}` over `split`."""
  if split not in SPLITS:
    raise ValueError(f"Unknown split {split!r}; expected one of {SPLITS}.")
  data = getattr(exp.dataset, split)
  if data is None:
    raise ValueError(f"Data set {exp.dataset.name!r} has no {split} split.")
  sums_fn = functools.partial(steps.eval_sums, model=exp.model,
                              likelihood=exp.dataset.likelihood)
  seed_sharded = parallel.per_seed(exp.mesh)
  rep = parallel.replicated(exp.mesh)
  batched = jax.jit(jax.vmap(sums_fn, in_axes=(0, None, None, 0)),
                    in_shardings=(seed_sharded, rep, rep, seed_sharded))
  batch_size = exp.config.train.eval_batch_size
  split_keys = jax.vmap(lambda k: jax.random.fold_in(k, SPLITS.index(split)))(
      rng.seed_keys(exp.seeds, "eval"))

  def evaluate(state) -> dict:
    totals = {}
    for index, start in enumerate(range(0, len(data), batch_size)):
      keys = jax.vmap(lambda k: jax.random.fold_in(k, index))(split_keys)
      sums = batched(state, data.x[start:start + batch_size],
                     data.y[start:start + batch_size], keys)
      for name, value in sums.items():
        totals[name] = totals.get(name, 0.0) + np.asarray(value, np.float64)
    count = totals.pop("count")
    return {name: value / count for name, value in totals.items()}

  return evaluate


def anomaly_auc(exp, state) -> list[float]:
  """ROC AUC per seed of the held-out class vs the rest of the test split."""
  config = exp.config
  test = exp.dataset.test
  is_anomaly = anomaly.held_out_class_mask(test.y, config.data.held_out_class)
  aucs = []
  for s, seed in enumerate(exp.seeds):
    encode_fn, decode_fn = steps.model_fns(exp.model, steps.seed_slice(state, s))
    scores = anomaly.anomaly_scores(
        encode_fn, decode_fn, test.x,
        rng.seed_key(seed, "anomaly"),
        num_samples=config.anomaly_samples,
        likelihood=exp.dataset.likelihood,
        batch_size=config.train.eval_batch_size)
    aucs.append(anomaly.roc_auc(scores, is_anomaly))
  return aucs


def final_metrics(exp, state) -> dict:
  """{metric: [value per seed]} for results.json."""
  metrics = {k: v.tolist() for k, v in make_evaluator(exp)(state).items()}
  if (exp.config.data.held_out_class >= 0
      and types.has_decoder(exp.config.model.variant)):
    metrics["auc"] = anomaly_auc(exp, state)
  if exp.config.get("beta_vae") is not None:
    metrics["beta_vae_score"] = disentanglement_eval.beta_vae_per_seed(
        exp, state)
  return metrics
