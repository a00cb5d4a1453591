"""Model selection on validation data: each seed keeps its own best state.

Seeds train as one vmapped program, so the best parameters are kept per
seed inside a seed-stacked pytree and replaced with `where` on each seed's
own improvement: no checkpoint per seed per evaluation. The selection is
checkpointed with the train state, so a resumed run selects exactly as an
uninterrupted one. Test data never enters here.
"""

from typing import Any

import flax
import jax
import jax.numpy as jnp
import numpy as np

from ssvae import model_spec
from ssvae import sharding

AUTO = "auto"
LAST = "last"
# Metrics a run can be selected on, and whether larger is better.
MAXIMIZE = {"accuracy": True, "elbo": True, "log_loss": False,
            "reconstruction": False, "kl": False}
SELECT_METRICS = (AUTO, LAST, *MAXIMIZE)


class Selection(flax.struct.PyTreeNode):
  """Per-seed best state so far; every leaf has a leading seed axis [S].

  score: the validation metric signed so that larger is better (-inf before
    the first evaluation). evals_since_best: evaluations since score last
    improved (the patience counter).
  """
  params: Any
  model_state: Any
  step: jax.Array
  score: jax.Array
  evals_since_best: jax.Array


def resolve_metric(config) -> str:
  """The validation metric config.train.select_metric names ('auto' resolved).

  auto: validation accuracy for models with a classifier, validation ELBO
  for the unsupervised sibling and for anomaly runs (held_out_class set)
  that have a decoder (the supervised sibling has no ELBO); 'last' (no
  selection: the last step) when there is no validation split.
  """
  metric = config.train.select_metric
  if config.data.validation_size == 0:
    return LAST
  if metric != AUTO:
    return metric
  variant = config.model.variant
  if model_spec.has_classifier(variant) and (config.data.held_out_class < 0
                                        or not model_spec.has_decoder(variant)):
    return "accuracy"
  return "elbo"


def init(state) -> Selection:
  """Nothing selected yet: the current parameters, score -inf."""
  num_seeds = jnp.shape(state.step)[0]
  return Selection(
      params=jax.tree.map(jnp.copy, state.params),
      model_state=jax.tree.map(jnp.copy, state.model_state),
      step=jnp.array(state.step), score=jnp.full((num_seeds,), -jnp.inf),
      evals_since_best=jnp.zeros((num_seeds,), jnp.int32))


def signed_score(metric: str, values) -> np.ndarray:
  """Validation values [S] as scores where larger is better."""
  values = np.asarray(values, np.float32)
  return values if MAXIMIZE[metric] else -values


@jax.jit
def update(selection: Selection, state, score: jax.Array,
           min_delta: float = 0.0) -> Selection:
  """Keeps, per seed, `state` where `score` [S] beats the best so far by
  more than `min_delta` (config.train.min_delta, in the metric's units).

  A NaN score never improves. Ties keep the earlier state.
  """
  improved = score > selection.score + min_delta

  def pick(new, old):
    mask = improved.reshape(improved.shape + (1,) * (new.ndim - 1))
    return jnp.where(mask, new, old)

  return Selection(
      params=jax.tree.map(pick, state.params, selection.params),
      model_state=jax.tree.map(pick, state.model_state,
                               selection.model_state),
      step=jnp.where(improved, state.step, selection.step),
      score=jnp.where(improved, score, selection.score),
      evals_since_best=jnp.where(improved, 0, selection.evals_since_best + 1))


def evals_since_best(selection: Selection) -> int:
  """Evaluations since the seed that improved last improved: the run stops
  when this reaches the patience."""
  return int(np.min(sharding.to_host(selection.evals_since_best)))


def out_of_patience(since_best: int, patience: int) -> bool:
  """The stop rule on evals_since_best's value (patience 0: never)."""
  return patience > 0 and since_best >= patience


def patience_exhausted(selection: Selection, patience: int) -> bool:
  """True when every seed has gone `patience` evaluations without improving
  (patience 0: never)."""
  return out_of_patience(evals_since_best(selection), patience)


def selected_state(state, selection: Selection):
  """`state` with each seed's selected parameters, statistics and step."""
  return state.replace(params=selection.params,
                       model_state=selection.model_state, step=selection.step)
