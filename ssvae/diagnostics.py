"""Diagnostics of what the unlabeled half of a batch does to q(y|x).

Cheap, logged every step for models with a classifier and a decoder:
  unlabeled_entropy (a term of the loss, ssvae.losses.unlabeled_entropy) and
  unlabeled_confidence = mean over unlabeled points of max_c q(c | x).

Opt-in (config.train.diagnostics; variants whose decoder sees y), three
extra decoder passes per step in evaluation mode (no dropout, running batch
statistics), at z = the posterior mean and y = the decoder's evaluation-mode
code of q(y|x) (softmax, or one_hot(argmax) for straight_through,
gumbel_softmax and m2; the rnn family's window y):
  unlabeled_reconstruction             R(z, y)
  unlabeled_reconstruction_shuffled_y  R(z, y of the previous point in the
                                       batch): y no longer describes x
  unlabeled_reconstruction_prior_z     R(0, y): z replaced by its prior mean
  y_reconstruction_gain = shuffled_y - R(z, y): nats of reconstruction that
                          come through y (how much the decoder relies on it)
  z_reconstruction_gain = prior_z - R(z, y): nats that come through z
where R is -log p(x | z, y) averaged over the unlabeled points. The previous
point has the same class with probability about 1/C, which shrinks the y
gain by about that fraction.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from ssvae import losses
from ssvae import model_spec
from ssvae.models import common

Array = jax.Array


def unlabeled_confidence(class_logits: Array, label_mask: Array) -> Array:
  """Mean max-probability of q(y|x) over the unlabeled points of a batch."""
  return losses.unlabeled_mean(
      jnp.max(jax.nn.softmax(class_logits, axis=-1), axis=-1), label_mask)


def supports_reconstruction_split(model: nn.Module) -> bool:
  return model_spec.decoder_sees_y(model.variant)


def _evaluation_code(model: nn.Module, class_logits: Array) -> Array:
  """The y the decoder sees in evaluation mode."""
  if model.variant == model_spec.M2:
    return common.one_hot_argmax(class_logits)
  return model.decoder_y(class_logits, train=False)


def reconstruction_split(model: nn.Module, variables: dict, x: Array,
                         label_mask: Array, likelihood: str) -> dict:
  """How much of the unlabeled reconstruction comes through y and through z.

  Returns the five metrics of the module docstring (scalars). Pure; the
  caller decides whether its gradient matters (train_step uses none).
  """
  z_mean, _, class_logits = model.apply(variables, x, method="encode",
                                        train=False)
  y = _evaluation_code(model, class_logits)

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
