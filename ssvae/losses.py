"""Loss terms of the semi-supervised VAE, as pure functions of arrays.

Nothing here knows about models: every function takes arrays and returns
arrays, so the terms can be reused from any JAX code.
"""

from typing import Optional

import jax
import jax.numpy as jnp

from ssvae import types

Array = jax.Array

_LOG_2PI = jnp.log(2.0 * jnp.pi)


def _sum_per_example(values: Array) -> Array:
  """Sums every axis but the first: [B, ...] -> [B]."""
  return jnp.sum(values.reshape(values.shape[0], -1), axis=-1)


def bernoulli_log_likelihood(x: Array, logits: Array) -> Array:
  """log p(x | logits) summed over all non-batch axes; x in [0, 1]. -> [B].

  Uses the numerically stable form x*l - softplus(l), exact for x in {0, 1}
  and the usual continuous relaxation for grey values.
  """
  return _sum_per_example(x * logits - jax.nn.softplus(logits))


def gaussian_log_likelihood(x: Array, mean: Array, var: Array) -> Array:
  """log N(x; mean, diag(var)) summed over all non-batch axes. -> [B]."""
  return _sum_per_example(
      -0.5 * (_LOG_2PI + jnp.log(var) + jnp.square(x - mean) / var))


def kl_to_standard_normal(mean: Array, logvar: Array) -> Array:
  """KL(N(mean, exp(logvar)) || N(0, I)) summed over non-batch axes. -> [B]."""
  return _sum_per_example(
      0.5 * (jnp.exp(logvar) + jnp.square(mean) - 1.0 - logvar))


def masked_cross_entropy(logits: Array, labels: Array,
                         label_mask: Array) -> tuple[Array, Array]:
  """Mean cross-entropy over the labeled points of a batch.

  Returns (loss, num_labeled). The sum over labeled points is divided by
  max(num_labeled, 1), so a batch without labels gives 0, not NaN, and its
  gradient is exactly zero.
  """
  per_example = -jnp.take_along_axis(
      jax.nn.log_softmax(logits), labels[:, None].astype(jnp.int32),
      axis=-1)[:, 0]
  num_labeled = jnp.sum(label_mask)
  # `where` rather than multiplying, so that a non-finite value on an
  # unlabeled point cannot leak into the loss as 0 * inf = NaN.
  masked = jnp.where(label_mask > 0, per_example, 0.0)
  return jnp.sum(masked) / jnp.maximum(num_labeled, 1.0), num_labeled


def reconstruction_log_likelihood(x: Array, recon_loc: Array,
                                  recon_var: Optional[Array],
                                  likelihood: str) -> Array:
  """Per-example log p(x | z) under the named likelihood. -> [B]."""
  if likelihood == types.BERNOULLI:
    return bernoulli_log_likelihood(x, recon_loc)
  if likelihood == types.GAUSSIAN:
    return gaussian_log_likelihood(x, recon_loc, recon_var)
  raise ValueError(
      f"Unknown likelihood {likelihood!r}; expected one of {types.LIKELIHOODS}.")


def ssvae_loss(*, x: Array, labels: Array, label_mask: Array,
               class_logits: Optional[Array], z_mean: Optional[Array],
               z_logvar: Optional[Array], recon_loc: Optional[Array],
               recon_var: Optional[Array] = None,
               factor_logits: tuple = (), likelihood: str = types.BERNOULLI,
               alpha: float = 1.0, beta: float = 1.0) -> tuple[Array, dict]:
  """Total loss and its named terms for one batch.

    total = reconstruction + beta * kl + alpha * classification

  with (B = batch size, n_lab = sum(label_mask)):
    reconstruction = -(1/B) sum_i log p(x_i | z_i, y_i)
    kl             =  (1/B) sum_i KL(q(z | x_i) || N(0, I))
    classification =  (1/max(n_lab, 1)) sum_{i labeled} -log softmax(logits_i)[label_i]

  Terms whose inputs are None are 0, which gives the siblings: the supervised
  model passes no decoder outputs (pure cross-entropy), the unsupervised one no
  class logits (the negative ELBO). `factor_logits` (multi-head models, labels
  [B, F]) adds one cross-entropy per factor to `classification`, summed.

  Returns (total, terms) where terms has 'reconstruction', 'kl',
  'classification', 'elbo' (= -(reconstruction + kl), per example) and
  'num_labeled'.
  """
  zero = jnp.zeros((), jnp.float32)
  reconstruction = kl = classification = zero
  if recon_loc is not None:
    reconstruction = -jnp.mean(
        reconstruction_log_likelihood(x, recon_loc, recon_var, likelihood))
  if z_mean is not None and recon_loc is not None:
    kl = jnp.mean(kl_to_standard_normal(z_mean, z_logvar))
  num_labeled = jnp.sum(label_mask)
  if factor_logits:
    for k, logits in enumerate(factor_logits):
      factor_labels = labels[:, k] if labels.ndim == 2 else labels
      classification += masked_cross_entropy(logits, factor_labels,
                                             label_mask)[0]
  elif class_logits is not None:
    classification = masked_cross_entropy(class_logits, labels, label_mask)[0]
  total = reconstruction + beta * kl + alpha * classification
  terms = {
      "reconstruction": reconstruction,
      "kl": kl,
      "classification": classification,
      "elbo": -(reconstruction + kl),
      "num_labeled": num_labeled,
  }
  return total, terms
