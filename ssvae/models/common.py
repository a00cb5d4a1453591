"""Pieces shared by every model family: heads, sampling, output layers, checks.

Every family forks its topmost encoder layer into the same `LatentHeads` and
ends its decoder in the same `LikelihoodHead`, so the three variants
(semi_supervised, supervised, unsupervised) differ in exactly one place.
"""

from typing import Any, Callable, Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from ssvae import errors
from ssvae import types

Array = jax.Array

# Added to the softplus output so a Gaussian decoder can never report a zero
# variance (which would make the log-likelihood infinite).
VARIANCE_FLOOR = 1e-6

# Name of the rng stream used for z = mu + sigma * eps.
LATENT_RNG = "latent"


def check_variant(variant: str, field: str = "model.variant") -> None:
  if variant not in types.VARIANTS:
    raise errors.ConfigError(
        f"{field}={variant!r} is not a model variant; valid values: "
        f"{', '.join(types.VARIANTS)}.")


def check_likelihood(likelihood: str, field: str = "likelihood") -> None:
  if likelihood not in types.LIKELIHOODS:
    raise errors.ConfigError(
        f"{field}={likelihood!r} is not a likelihood; valid values: "
        f"{', '.join(types.LIKELIHOODS)}.")


def check_positive_ints(values: Sequence[int], field: str,
                        length: Optional[int] = None) -> None:
  """Raises ValueError unless `values` is a (non-empty) tuple of ints > 0."""
  values = tuple(values)
  if not values or not all(
      isinstance(v, int) and not isinstance(v, bool) and v > 0
      for v in values):
    raise errors.ConfigError(
        f"{field}={values!r} must be a non-empty sequence of "
        "positive integers.")
  if length is not None and len(values) != length:
    raise errors.ConfigError(
        f"{field}={values!r} must have exactly {length} entries.")


def check_input(x: Array, input_shape: tuple, model_name: str) -> None:
  """Raises ValueError unless x is [B, *input_shape] (checked at trace time)."""
  if tuple(x.shape[1:]) != tuple(input_shape):
    raise ValueError(
        f"{model_name} was built for inputs of shape [B, "
        f"{', '.join(map(str, input_shape))}] but got x of shape "
        f"{tuple(x.shape)}.")


def check_model_fields(variant: str, likelihood: str, latent_dim: int,
                       hidden_sizes: Sequence[int],
                       dropout_rate: float) -> None:
  """Validates the fields every family shares, naming the config field."""
  check_variant(variant)
  check_likelihood(likelihood)
  if (not isinstance(latent_dim, int) or isinstance(latent_dim, bool)
      or latent_dim < 1):
    raise errors.ConfigError(
        f"model.latent_dim={latent_dim!r} must be an integer >= 1.")
  check_positive_ints(hidden_sizes, "model.hidden_sizes")
  if not 0.0 <= dropout_rate < 1.0:
    raise errors.ConfigError(
        f"model.dropout_rate={dropout_rate!r} must be in [0, 1).")


def reparameterize(rng: Array, z_mean: Array, z_logvar: Array) -> Array:
  """One sample z = mu + exp(logvar / 2) * eps, eps ~ N(0, I)."""
  eps = jax.random.normal(rng, z_mean.shape, z_mean.dtype)
  return z_mean + jnp.exp(0.5 * z_logvar) * eps


def sample_latent(module: nn.Module, z_mean: Array, z_logvar: Array) -> Array:
  """Reparameterized sample drawing eps from `module`'s 'latent' rng stream."""
  if not module.has_rng(LATENT_RNG):
    raise ValueError(
        f"{type(module).__name__} samples z and needs an rng stream "
        f"'{LATENT_RNG}': call init/apply with "
        f"rngs={{'params': ..., '{LATENT_RNG}': ..., 'dropout': ...}}.")
  return reparameterize(module.make_rng(LATENT_RNG), z_mean, z_logvar)


def gaussian_variance(raw: Array) -> Array:
  """Maps an unconstrained output to a strictly positive variance."""
  return nn.softplus(raw) + VARIANCE_FLOOR


class LatentHeads(nn.Module):
  """The fork at the top of every encoder: {mu, logvar} and softmax heads.

  Which heads exist follows the variant: mu/logvar only when the variant has a
  decoder, class heads only when it has a classifier. Parameters of absent
  heads are never created.

  Attributes:
    latent_dim: size of z.
    class_sizes: one class head per entry (a single entry for ordinary
      classification, one per factor for multi-head models).
    variant: one of types.VARIANTS.
  """
  latent_dim: int
  class_sizes: tuple
  variant: str

  @nn.compact
  def __call__(self, h: Array) -> tuple:
    """Returns (z_mean | None, z_logvar | None, tuple of class logits).

    Dense layers act on the last axis, so h may carry a time axis.
    """
    z_mean = z_logvar = None
    if types.has_decoder(self.variant):
      z_mean = nn.Dense(self.latent_dim, name="z_mean")(h)
      z_logvar = nn.Dense(self.latent_dim, name="z_logvar")(h)
    class_logits = ()
    if types.has_classifier(self.variant):
      class_logits = tuple(
          nn.Dense(size, name=f"class_logits_{k}")(h)
          for k, size in enumerate(self.class_sizes))
    return z_mean, z_logvar, class_logits


class LikelihoodHead(nn.Module):
  """Last decoder layer: Bernoulli logits, or a Gaussian mean and variance.

  Attributes:
    likelihood: types.BERNOULLI or types.GAUSSIAN.
    make_layer: builds the output layer (called with `name=`), e.g.
      functools.partial(nn.Dense, 784). The Gaussian variance gets its own
      layer of the same kind.
  """
  likelihood: str
  make_layer: Callable[..., Any]

  @nn.compact
  def __call__(self, h: Array) -> tuple:
    """Returns (recon_loc, recon_var | None) for the decoder features h."""
    loc = self.make_layer(name="loc")(h)
    if self.likelihood == types.BERNOULLI:
      return loc, None
    return loc, gaussian_variance(self.make_layer(name="var")(h))


def decoder_input(z: Array, y: Optional[Array], variant: str,
                  num_classes: int, model_name: str) -> Array:
  """The decoder's input: concat(z, y) for semi_supervised, z alone otherwise.

  Raises ValueError if y is missing where the decoder needs it, given where it
  would be ignored, or has the wrong number of classes.
  """
  if variant == types.SEMI_SUPERVISED:
    if y is None:
      raise ValueError(
          f"{model_name} (semi_supervised) decodes concat(z, y): pass y, the "
          "class probabilities or one-hot labels of shape "
          f"[..., {num_classes}].")
    if y.shape[-1] != num_classes:
      raise ValueError(
          f"{model_name}: y has {y.shape[-1]} classes in its last axis, "
          f"expected {num_classes}.")
    return jnp.concatenate([z, y.astype(z.dtype)], axis=-1)
  if y is not None:
    raise ValueError(
        f"{model_name} ({variant}) decodes z only; y must be None.")
  return z


def require_decoder(variant: str, model_name: str) -> None:
  if not types.has_decoder(variant):
    raise ValueError(f"{model_name} ({variant}) has no decoder.")


def single_head_forward(model: nn.Module, x: Array, *,
                        train: bool) -> types.ModelOutput:
  """__call__ of a family with one class head: encode, sample, decode.

  The decoder of semi_supervised models sees softmax(class_logits), so the
  reconstruction term trains the classifier on unlabeled data too.
  """
  z_mean, z_logvar, class_logits = model.encode(x, train=train)
  if not types.has_decoder(model.variant):
    return types.ModelOutput(class_logits=class_logits)
  z = sample_latent(model, z_mean, z_logvar)
  y = None if class_logits is None else jax.nn.softmax(class_logits, axis=-1)
  recon_loc, recon_var = model.decode(z, y, train=train)
  return types.ModelOutput(
      class_logits=class_logits, z_mean=z_mean, z_logvar=z_logvar, z=z,
      recon_loc=recon_loc, recon_var=recon_var)
