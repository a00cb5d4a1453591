"""The metrics of an Experiment's trained state, per seed.

`make_evaluator`: the periodic metrics the training loop selects on
(accuracy and log loss over labeled points, the ELBO terms), summed by
steps.eval_sums over batches of a split. `final_metrics`: those on test plus
what only the end of a run needs: the anomaly AUC of a held-out class
(ssvae.metrics.anomaly) and the betaVAE score (ssvae.metrics.disentanglement)
when config.beta_vae is set.

betaVAE score of a trained run, one value per seed (paper Table 12). The
representation is the encoder mean z_mean(x). The score needs codes of
observations drawn for arbitrary factor combinations, 2 * batch_size *
(num_train + num_eval) of them (1.92 million with disentanglement_lib's
defaults). The encoder is deterministic and per-example, so the code of an
observation depends only on its grid cell: every cell of the complete factor
grid (the training split of dSprites) is encoded once, and the metric then
samples from a FactorSampler over the codes with the identity as
representation. That gives the same score as encoding each sampled
observation, with 46,080 encoder passes instead of 1.92 million. Every model
seed is scored on the same metric points (rng seeded by config.beta_vae.seed),
so differences between seeds and between rows of a table come from the
models alone.
"""

import functools
import re
from typing import Callable

import jax
import ml_collections
import numpy as np

from ssvae import errors
from ssvae import model_spec
from ssvae import sharding
from ssvae import rng
from ssvae import steps
from ssvae.metrics import anomaly
from ssvae.metrics import batching
from ssvae.metrics import disentanglement

BETA_VAE_FIELDS = ("batch_size", "num_train", "num_eval", "seed")
# Metric points drawn per lookup; codes are looked up, not encoded, so a
# large chunk only saves Python overhead. Changing it changes which points
# are drawn (not their distribution).
POINTS_PER_CALL = 256


def check_beta_vae_config(beta_vae: ml_collections.ConfigDict) -> None:
  """Raises ValueError naming config.beta_vae.<field> if one is missing/bad."""
  for field in BETA_VAE_FIELDS:
    value = beta_vae.get(field)
    if (value is None or isinstance(value, bool)
        or not isinstance(value, (int, np.integer))):
      raise errors.ConfigError(
          f"config.beta_vae.{field} must be an int, got {value!r} (fields: "
          f"{', '.join(BETA_VAE_FIELDS)}).")
    if field != "seed" and value < 1:
      raise errors.ConfigError(
          f"config.beta_vae.{field} must be positive, got "
          f"{value}.")


def encoder_mean_fn(model, state) -> Callable[[np.ndarray], jax.Array]:
  """Jitted x [B, ...] -> z_mean [B, D] of ONE seed's state."""
  encode_fn, _ = steps.model_fns(model, state)
  return jax.jit(lambda x: encode_fn(x)[0])


def grid_split(dataset):
  """The official training split: the training points plus the validation
  points held out of them. The score needs every factor combination, and it
  measures the representation, so no training choice depends on it."""
  if dataset.validation is None:
    return dataset.train
  return type(dataset.train)(
      x=np.concatenate([dataset.train.x, dataset.validation.x]),
      y=np.concatenate([dataset.train.y, dataset.validation.y]))


def grid_sampler(dataset, codes: np.ndarray) -> disentanglement.FactorSampler:
  """A FactorSampler that returns codes for the training grid (grid_split)."""
  return disentanglement.FactorSampler(dataset.factor_sizes, codes,
                                       grid_split(dataset).y)


def _check_experiment(exp) -> None:
  if not exp.dataset.factor_sizes:
    raise ValueError(
        f"The betaVAE score needs a data set with generative factors "
        f"(factor_sizes); {exp.dataset.name!r} has none. Remove "
        f"config.beta_vae or use dsprites.")
  if not model_spec.has_decoder(exp.config.model.variant):
    raise ValueError(
        f"The betaVAE score is computed on the encoder mean z, which the "
        f"{exp.config.model.variant!r} variant does not have; remove "
        f"config.beta_vae for it.")
  if exp.dataset.train.y.ndim != 2:
    raise ValueError(
        f"The betaVAE score needs factor classes y [N, F] in the training "
        f"split, got shape {exp.dataset.train.y.shape}.")


def beta_vae_scores(exp, state) -> list[dict]:
  """{'train_accuracy', 'eval_accuracy'} per seed of a seed-stacked state.

  Settings come from exp.config.beta_vae (batch_size, num_train, num_eval,
  seed); the observations are the official training split (grid_split),
  which must be a complete factor grid (FactorSampler raises otherwise).
  """
  settings = exp.config.get("beta_vae")
  if settings is None:
    raise errors.ConfigError("config.beta_vae is not set.")
  check_beta_vae_config(settings)
  _check_experiment(exp)
  # Checks the grid before any encoding, so a bad data set fails fast.
  grid = grid_split(exp.dataset)
  disentanglement.FactorSampler(exp.dataset.factor_sizes, grid.x, grid.y)
  scores = []
  for index in range(exp.num_seeds):
    representation_fn = encoder_mean_fn(
        exp.model, steps.seed_slice(state, index))
    codes = batching.map_in_batches(representation_fn, grid.x,
                                    exp.config.train.eval_batch_size)
    scores.append(disentanglement.beta_vae_score(
        lambda looked_up_codes: looked_up_codes,
        grid_sampler(exp.dataset, codes),
        np.random.default_rng(settings.seed),
        batch_size=settings.batch_size, num_train=settings.num_train,
        num_eval=settings.num_eval, points_per_call=POINTS_PER_CALL))
  return scores


def beta_vae_per_seed(exp, state) -> list[float]:
  """The betaVAE score (eval accuracy of the factor classifier) per seed."""
  return [score["eval_accuracy"] for score in beta_vae_scores(exp, state)]


EVAL_SPLITS = ("test", "validation")


# Metrics of the classifier heads, averaged over the labeled points only.
_LABELED_METRICS = re.compile(r"(factor\d+_)?(accuracy|log_loss)")


def per_point_means(totals: dict) -> dict:
  """Means of steps.eval_sums' totals: classifier metrics over the labeled
  points (left out where a split has none), the rest over all points."""
  totals = dict(totals)
  count = totals.pop("count")
  labeled = totals.pop("labeled_count", None)
  means = {}
  for name, value in totals.items():
    if not _LABELED_METRICS.fullmatch(name):
      means[name] = value / count
    elif np.all(labeled > 0):
      means[name] = value / labeled
  return means


@functools.lru_cache(maxsize=64)
def _per_seed_eval_sums(model, likelihood: str, mesh):
  """jit(vmap(steps.eval_sums)) over the seed axis, one per (model,
  likelihood, mesh): a run's evaluators (validation, test, the final
  metrics) share their compiled programs instead of compiling one each."""
  seed_sharded = sharding.per_seed(mesh)
  rep = sharding.replicated(mesh)
  sums_fn = functools.partial(steps.eval_sums, model=model,
                              likelihood=likelihood)
  return jax.jit(jax.vmap(sums_fn, in_axes=(0, None, None, 0)),
                 in_shardings=(seed_sharded, rep, rep, seed_sharded))


def make_evaluator(exp, split: str = "test"):
  """Returns `evaluate(state) -> {metric: np.ndarray [S]}` over `split`.

  The periodic metrics the loop selects on (accuracy, log loss, ELBO terms);
  the final ones (anomaly AUC, betaVAE score) are final_metrics's.
  """
  if split not in EVAL_SPLITS:
    raise ValueError(f"Unknown split {split!r}; expected one of {EVAL_SPLITS}.")
  data = getattr(exp.dataset, split)
  if data is None:
    raise ValueError(f"Data set {exp.dataset.name!r} has no {split} split.")
  seed_sharded = sharding.per_seed(exp.mesh)
  rep = sharding.replicated(exp.mesh)
  batched = _per_seed_eval_sums(exp.model, exp.dataset.likelihood, exp.mesh)
  batch_size = exp.config.train.eval_batch_size
  split_keys = jax.vmap(
      lambda k: jax.random.fold_in(k, EVAL_SPLITS.index(split)))(
          rng.seed_keys(exp.seeds, "eval"))

  def evaluate(state) -> dict:
    totals = {}
    for index, start in enumerate(range(0, len(data), batch_size)):
      keys = jax.vmap(lambda k: jax.random.fold_in(k, index))(split_keys)
      sums = batched(state,
                     sharding.put(data.x[start:start + batch_size], rep),
                     sharding.put(data.y[start:start + batch_size], rep),
                     sharding.put(keys, seed_sharded))
      for name, value in sums.items():
        totals[name] = totals.get(name, 0.0) + sharding.to_host(
            value).astype(np.float64)
    return per_point_means(totals)

  return evaluate


def anomaly_auc(exp, state) -> list[float]:
  """ROC AUC per seed of the held-out class vs the rest of the test split."""
  config = exp.config
  test = exp.dataset.test
  is_anomaly = anomaly.held_out_class_mask(test.y, config.data.held_out_class)
  aucs = []
  for s, seed in enumerate(exp.seeds):
    encode_fn, decode_fn = steps.scoring_fns(exp.model,
                                             steps.seed_slice(state, s))
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
  metrics = {k: v.tolist()
             for k, v in make_evaluator(exp)(state).items()}
  if (exp.config.data.held_out_class >= 0
      and model_spec.has_decoder(exp.config.model.variant)):
    metrics["auc"] = anomaly_auc(exp, state)
  if exp.config.get("beta_vae") is not None:
    metrics["beta_vae_score"] = beta_vae_per_seed(
        exp, state)
  return metrics
