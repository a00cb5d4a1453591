"""Pure training and evaluation steps for one run (no seed axis here).

`train_step(state, batch, rng) -> (state, metrics)` is the unit everything
else is built from: `ssvae.train` vmaps it over seeds, scans it over steps
and jits it over a device mesh. It also logs the diagnostics of what the
unlabeled half of a batch does to q(y|x) (the section "Diagnostics" below).
"""

from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax

from ssvae import losses
from ssvae import model_spec
from ssvae.models import common

Array = jax.Array


class TrainState(flax.struct.PyTreeNode):
  """Everything that changes during training; model and optimizer are static.

  model_state holds the non-trainable collections (BatchNorm's batch_stats).
  """
  step: Array
  params: Any
  model_state: Any
  opt_state: Any


OPTIMIZERS = ("rmsprop", "adam")
SCHEDULES = ("constant", "warmup_cosine", "exponential")


def learning_rate_schedule(config: ml_collections.ConfigDict
                           ) -> float | optax.Schedule:
  """config.optimizer's learning rate: a number, or a function of the step.

  constant: the paper's ("without decay"), kept a plain number so that the
  optimizer state (and so every checkpoint) is what it was before schedules
  existed. warmup_cosine: linear from 0 to
  learning_rate over warmup_steps, then a cosine to 0 at decay_steps.
  exponential: halved every decay_steps steps (after warmup_steps at the
  full rate).
  """
  rate = config.learning_rate
  schedule = config.get("schedule", "constant")
  if schedule == "constant":
    return rate
  if schedule == "warmup_cosine":
    return optax.warmup_cosine_decay_schedule(
        init_value=0.0, peak_value=rate, warmup_steps=config.warmup_steps,
        decay_steps=config.decay_steps, end_value=0.0)
  if schedule == "exponential":
    return optax.exponential_decay(
        rate, transition_steps=config.decay_steps, decay_rate=0.5,
        transition_begin=config.warmup_steps)
  raise ValueError(f"unknown optimizer.schedule {schedule!r}")


def make_optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
  """config.optimizer's optimizer (configs/default.py describes the fields).

  rmsprop: optax.rmsprop with `decay` (the squared-gradient average's) and
  heavy-ball `momentum`: the paper's optimizer, whose values the paper lost
  (configs/recipe_search.py lists the readings). adam: the same two fields
  in the same roles, Adam's b2 (decay) and b1 (momentum).
  """
  rate = learning_rate_schedule(config)
  name = config.get("name", "rmsprop")
  if name == "rmsprop":
    return optax.rmsprop(learning_rate=rate, decay=config.decay,
                         momentum=config.momentum)
  if name == "adam":
    return optax.adam(learning_rate=rate, b1=config.momentum, b2=config.decay)
  raise ValueError(f"unknown optimizer.name {name!r}")


def init_state(model: nn.Module, tx: optax.GradientTransformation, rng: Array,
               example_x: Array) -> TrainState:
  params_key, latent_key, dropout_key = jax.random.split(rng, 3)
  variables = model.init(
      {"params": params_key, "latent": latent_key, "dropout": dropout_key},
      example_x, train=False)
  params = variables.pop("params")
  return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                    model_state=dict(variables),
                    opt_state=tx.init(params))


def _loss_inputs(output: model_spec.ModelOutput, batch: dict) -> dict:
  return dict(x=batch["x"], labels=batch["label"],
              label_mask=batch["label_mask"],
              class_logits=output.class_logits, z_mean=output.z_mean,
              z_logvar=output.z_logvar, recon_loc=output.recon_loc,
              recon_var=output.recon_var)


def _loss_options(loss_config: ml_collections.ConfigDict,
                  likelihood: str) -> dict:
  return dict(likelihood=likelihood, alpha=loss_config.alpha,
              beta=loss_config.beta,
              unlabeled_entropy_weight=loss_config.get(
                  "unlabeled_entropy_weight", 0.0))


def batch_loss(variant: str, output: model_spec.ModelOutput, batch: dict, *,
               loss_config: ml_collections.ConfigDict,
               likelihood: str) -> tuple[Array, dict]:
  """(total, terms) of the variant's loss: losses.m2_loss for m2, else
  losses.ssvae_loss (which also covers the siblings)."""
  options = _loss_options(loss_config, likelihood)
  if variant == model_spec.M2:
    return losses.m2_loss(**_loss_inputs(output, batch), **options)
  return losses.ssvae_loss(**_loss_inputs(output, batch),
                           factor_logits=output.factor_logits, **options)


def _class_labels(labels: Array) -> Array:
  """Labels of the class head: factor 0 for multi-factor data."""
  return labels[:, 0] if labels.ndim == 2 else labels


def seed_slice(state, index: int):
  """The train state of one seed out of a seed-stacked state."""
  return jax.tree.map(lambda leaf: leaf[index], state)


def model_fns(model, state):
  """(encode_fn, decode_fn) closures over one seed's variables."""
  variables = {"params": state.params, **state.model_state}
  encode_fn = lambda x: model.apply(variables, x, method="encode", train=False)
  decode_fn = lambda z, y: model.apply(variables, z, y, method="decode",
                                       train=False)
  return encode_fn, decode_fn


def scoring_fns(model, state):
  """(encode_fn, decode_fn) for ssvae.metrics.anomaly over one seed's
  variables: encode_fn(x) -> (z_mean, z_logvar, the y the decoder sees in
  evaluation, model.decoder_inputs), decode_fn(z, y) as in model_fns."""
  variables = {"params": state.params, **state.model_state}
  encode_fn = lambda x: model.apply(variables, x, method="decoder_inputs")
  return encode_fn, model_fns(model, state)[1]


# ---------------------------------------------------------------- Diagnostics
#
# Diagnostics of what the unlabeled half of a batch does to q(y|x).
#
# Cheap, logged every step for models with a classifier and a decoder:
#   unlabeled_entropy (a term of the loss, ssvae.losses.unlabeled_entropy) and
#   unlabeled_confidence = mean over unlabeled points of max_c q(c | x).
#
# Opt-in (config.train.diagnostics; variants whose decoder sees y), three
# extra decoder passes per step in evaluation mode (no dropout, running batch
# statistics), at z = the posterior mean and y = the decoder's evaluation-mode
# code of q(y|x) (softmax, or one_hot(argmax) for straight_through,
# gumbel_softmax and m2; the rnn family's per-step y, as its decoder trains):
#   unlabeled_reconstruction             R(z, y)
#   unlabeled_reconstruction_shuffled_y  R(z, y of the previous point in the
#                                        batch): y no longer describes x
#   unlabeled_reconstruction_prior_z     R(0, y): z replaced by its prior mean
#   y_reconstruction_gain = shuffled_y - R(z, y): nats of reconstruction that
#                           come through y (how much the decoder relies on it)
#   z_reconstruction_gain = prior_z - R(z, y): nats that come through z
# where R is -log p(x | z, y) averaged over the unlabeled points. The previous
# point has the same class with probability about 1/C, which shrinks the y
# gain by about that fraction.


def unlabeled_confidence(class_logits: Array, label_mask: Array) -> Array:
  """Mean max-probability of q(y|x) over the unlabeled points of a batch."""
  return losses.unlabeled_mean(
      jnp.max(jax.nn.softmax(class_logits, axis=-1), axis=-1), label_mask)


def supports_reconstruction_split(model: nn.Module) -> bool:
  return model_spec.decoder_sees_y(model.variant)


def reconstruction_split(model: nn.Module, variables: dict, x: Array,
                         label_mask: Array, likelihood: str) -> dict:
  """How much of the unlabeled reconstruction comes through y and through z.

  Returns the five metrics of the module docstring (scalars). Pure; the
  caller decides whether its gradient matters (train_step uses none).
  """
  if model.variant == model_spec.M2:  # decodes one class at a time
    z_mean, _, class_logits = model.apply(variables, x, method="encode",
                                          train=False)
    y = common.one_hot_argmax(class_logits)
  else:  # the y the decoder trains on: per time step for the rnn family
    z_mean, _, y = model.apply(variables, x, method="decoder_inputs")

  def reconstruction(z, y):
    loc, var = model.apply(variables, z, y, method="decode", train=False)
    return losses.unlabeled_mean(
        -losses.reconstruction_log_likelihood(x, loc, var, likelihood),
        label_mask)

  base = reconstruction(z_mean, y)
  shuffled_y = reconstruction(z_mean, jnp.roll(y, 1, axis=0))
  prior_z = reconstruction(jnp.zeros_like(z_mean), y)
  return {
      "unlabeled_reconstruction": base,
      "unlabeled_reconstruction_shuffled_y": shuffled_y,
      "unlabeled_reconstruction_prior_z": prior_z,
      "y_reconstruction_gain": shuffled_y - base,
      "z_reconstruction_gain": prior_z - base,
  }


def train_step(state: TrainState, batch: dict, rng: Array, *,
               model: nn.Module, tx: optax.GradientTransformation,
               loss_config: ml_collections.ConfigDict,
               likelihood: str,
               diagnostics: bool = False,
               labeled_first: int = 0) -> tuple[TrainState, dict]:
  """One gradient step on `batch` = {'x', 'label', 'label_mask'}.

  labeled_first (static): the number of leading labeled points of every
  batch (data.labeled_first; the sampler's layout), or 0 if unknown. m2 uses
  it to enumerate the classes on the unlabeled points only
  (losses.m2_loss_labeled_first: the same loss, fewer passes); a batch whose
  label_mask disagrees gets a NaN loss. Other variants ignore it.

  metrics: 'loss', 'grad_norm', the loss terms, 'labeled_accuracy' (models
  with a classifier) and 'unlabeled_confidence' (with a classifier and a
  decoder; the Diagnostics section). diagnostics=True (config.train.diagnostics)
  adds diagnostics.reconstruction_split on the pre-step parameters for
  variants whose decoder sees y (three extra decoder passes, no gradient).
  """
  latent_key, dropout_key = jax.random.split(rng)

  rngs = {"latent": latent_key, "dropout": dropout_key}

  def loss_fn(params):
    variables = {"params": params, **state.model_state}
    if labeled_first and model.variant == model_spec.M2:
      (labeled, unlabeled), new_model_state = model.apply(
          variables, batch["x"], batch["label"][:labeled_first], train=True,
          method="m2_labeled_first", rngs=rngs,
          mutable=list(state.model_state))
      total, terms = losses.m2_loss_labeled_first(
          x=batch["x"], labels=batch["label"], label_mask=batch["label_mask"],
          labeled=labeled, unlabeled=unlabeled,
          **_loss_options(loss_config, likelihood))
      class_logits = jnp.concatenate([o.class_logits for o in
                                      (labeled, unlabeled) if o is not None])
      return total, (terms, new_model_state, class_logits)
    output, new_model_state = model.apply(
        variables, batch["x"], train=True, step=state.step, rngs=rngs,
        mutable=list(state.model_state))
    total, terms = batch_loss(model.variant, output, batch,
                              loss_config=loss_config, likelihood=likelihood)
    return total, (terms, new_model_state, output.class_logits)

  (total, (terms, new_model_state, class_logits)), grads = jax.value_and_grad(
      loss_fn, has_aux=True)(state.params)
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  new_state = state.replace(
      step=state.step + 1, params=optax.apply_updates(state.params, updates),
      model_state=dict(new_model_state), opt_state=opt_state)
  metrics = {"loss": total, "grad_norm": optax.tree.norm(grads), **terms}
  if class_logits is not None:
    hits = jnp.argmax(class_logits, -1) == _class_labels(batch["label"])
    metrics["labeled_accuracy"] = (
        jnp.sum(hits * batch["label_mask"])
        / jnp.maximum(batch["label_mask"].sum(), 1.0))
    if model_spec.has_decoder(model.variant):
      metrics["unlabeled_confidence"] = unlabeled_confidence(
          class_logits, batch["label_mask"])
  if diagnostics and supports_reconstruction_split(model):
    metrics.update(jax.lax.stop_gradient(
        reconstruction_split(
            model, {"params": state.params, **state.model_state}, batch["x"],
            batch["label_mask"], likelihood)))
  return new_state, metrics


def _m2_bound_per_example(output: model_spec.ModelOutput, x: Array,
                          likelihood: str) -> tuple[Array, Array]:
  """M2's label-free bound U(x) per point, y marginalised under q(y|x).

  Returns (reconstruction, kl) [B]: sum_c q(c|x) R_c and
  sum_c q(c|x) K_c + KL(q(y|x) || Uniform); -(reconstruction + kl) is the
  ELBO of log p(x) (ssvae.losses.m2_loss's U(x)).
  """
  reconstruction, kl_z = losses.m2_expected_terms(
      x, jax.nn.softmax(output.class_logits, axis=-1), output.z_mean,
      output.z_logvar, output.recon_loc, output.recon_var, likelihood)
  return reconstruction, kl_z + losses.kl_to_uniform(output.class_logits)


def eval_sums(state: TrainState, x: Array, labels: Array, rng: Array, *,
              model: nn.Module, likelihood: str) -> dict:
  """Per-batch sums of test metrics; divide by 'count' after summing batches.

  Accuracy and log loss are summed over the labeled points only (labels !=
  -1, ssvae.data.UNLABELED; 'labeled_count' counts them), every other term
  over all points ('count'). ELBO terms
  use one z sample (the anomaly module gives the Monte-Carlo reconstruction
  probability). The one-model variants report log p(x | z, y) - KL(q(z|x) ||
  N(0, I)) with the decoder's evaluation-mode y (the models have no prior on
  y). m2 reports its label-free bound U(x) on log p(x): q(y|x)-weighted
  reconstruction and z-KL over the enumerated classes, plus KL(q(y|x) ||
  Uniform) in 'kl'; the labels are not used.
  """
  output = model.apply({"params": state.params, **state.model_state}, x,
                       train=False, rngs={"latent": rng})
  sums = {"count": jnp.asarray(x.shape[0], jnp.float32)}
  heads = output.factor_logits or (
      (output.class_logits,) if output.class_logits is not None else ())
  if heads:
    labeled = (labels[:, 0] if labels.ndim == 2 else labels) >= 0
    sums["labeled_count"] = jnp.sum(labeled.astype(jnp.float32))
  for k, logits in enumerate(heads):
    y = labels[:, k] if labels.ndim == 2 else labels
    prefix = "" if k == 0 else f"factor{k}_"
    log_probs = jax.nn.log_softmax(logits)
    sums[prefix + "accuracy"] = jnp.sum((jnp.argmax(logits, -1) == y)
                                        & labeled)
    picked = jnp.take_along_axis(log_probs, jnp.maximum(y, 0)[:, None],
                                 axis=-1)
    sums[prefix + "log_loss"] = -jnp.sum(
        jnp.where(labeled[:, None], picked, 0.0))
  if model.variant == model_spec.M2:
    reconstruction, kl = _m2_bound_per_example(output, x, likelihood)
    sums["reconstruction"] = jnp.sum(reconstruction)
    sums["kl"] = jnp.sum(kl)
    sums["elbo"] = -jnp.sum(reconstruction + kl)
  elif output.recon_loc is not None:
    log_lik = losses.reconstruction_log_likelihood(
        x, output.recon_loc, output.recon_var, likelihood)
    kl = losses.kl_to_standard_normal(output.z_mean, output.z_logvar)
    sums["reconstruction"] = -jnp.sum(log_lik)
    sums["kl"] = jnp.sum(kl)
    sums["elbo"] = jnp.sum(log_lik - kl)
  return sums

