"""Pieces shared by every model family: heads, sampling, output layers, checks.

Every family forks its topmost encoder layer into the same `LatentHeads` and
ends its decoder in the same `LikelihoodHead`, so the three variants
(semi_supervised, supervised, unsupervised) differ in exactly one place.
`DecoderY` is what the semi_supervised decoder sees of y (config
model.decoder_y); `m2_forward` is the forward pass of Kingma et al.'s M2 for
families that implement it.
"""

import dataclasses
from typing import Any, Callable, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

from ssvae import errors
from ssvae import model_spec

Array = jax.Array

# Added to the softplus output so a Gaussian decoder can never report a zero
# variance (which would make the log-likelihood infinite).
VARIANCE_FLOOR = 1e-6

# Name of the rng stream used for z = mu + sigma * eps.
LATENT_RNG = "latent"


def check_input_axes(input_shape: tuple, family: str, what: str,
                     axes: str) -> None:
  """Raises ConfigError unless the data's input_shape has the axes `axes`
  ("H, W, C") the family needs. The config's fields are checked by
  ssvae.config_validation; the data's shape here, where it meets the family."""
  if len(input_shape) != len(axes.split(",")):
    raise errors.ConfigError(
        f"family {family} needs {what} of shape ({axes}); got input_shape="
        f"{tuple(input_shape)}.")


def check_input(x: Array, input_shape: tuple, model_name: str) -> None:
  """Raises ValueError unless x is [B, *input_shape] (checked at trace time)."""
  if tuple(x.shape[1:]) != tuple(input_shape):
    raise ValueError(
        f"{model_name} was built for inputs of shape [B, "
        f"{', '.join(map(str, input_shape))}] but got x of shape "
        f"{tuple(x.shape)}.")


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


def one_hot_argmax(logits: Array) -> Array:
  """one_hot(argmax(logits)) over the last axis, in logits' dtype."""
  return jax.nn.one_hot(jnp.argmax(logits, axis=-1), logits.shape[-1],
                        dtype=logits.dtype)


def straight_through(probs: Array) -> Array:
  """one_hot(argmax(probs)) forward, the identity's gradient backward.

  hard + (probs - stop_gradient(probs)): the forward value is exactly the
  one-hot vector (probs - probs = 0), the gradient that of probs.
  """
  return one_hot_argmax(probs) + (probs - jax.lax.stop_gradient(probs))


def gumbel_temperature(step: Array, start: float, minimum: float,
                       anneal_steps: int) -> Array:
  """Exponential annealing: start -> minimum over anneal_steps, then flat.

    tau(step) = start * (minimum / start) ** min(step / anneal_steps, 1)

  anneal_steps = 0 keeps tau = start.
  """
  if anneal_steps == 0:
    return jnp.asarray(start, jnp.float32)
  progress = jnp.minimum(jnp.asarray(step, jnp.float32) / anneal_steps, 1.0)
  return start * (minimum / start) ** progress


@dataclasses.dataclass(frozen=True)
class DecoderY:
  """What the decoder of the semi_supervised model sees of the class head.

  config.model.decoder_y selects `mode`, one of model_spec.DECODER_Y_MODES:
    softmax:          softmax(logits), the paper (default).
    straight_through: one_hot(argmax) forward, softmax's gradient backward.
    gumbel_softmax:   softmax((logits + g) / tau), g ~ Gumbel(0, 1) drawn
                      from the 'latent' rng stream after z's noise, tau =
                      gumbel_temperature(step, ...) (model.gumbel_temperature,
                      gumbel_temperature_min, gumbel_anneal_steps).
    detached:         stop_gradient(softmax(logits)): the decoder path gives
                      the class head no gradient (a diagnosis, not a remedy).
  Every point, labeled or not, feeds the decoder this code of q(y|x) (the
  paper feeds y from the encoder; the true label never reaches the decoder).
  In evaluation (train=False) straight_through and gumbel_softmax decode
  one_hot(argmax(logits)), the noise-free zero-temperature limit; softmax
  and detached decode the softmax.
  """
  mode: str = model_spec.SOFTMAX
  gumbel_temperature: float = 1.0
  gumbel_temperature_min: float = 0.5
  gumbel_anneal_steps: int = 5000

  def temperature(self, step: Array) -> Array:
    return gumbel_temperature(step, self.gumbel_temperature,
                              self.gumbel_temperature_min,
                              self.gumbel_anneal_steps)

  def __call__(self, class_logits: Array, *, train: bool,
               step: Optional[Array] = None,
               make_rng: Optional[Callable[[], Array]] = None) -> Array:
    """The decoder's y for `class_logits` [..., C].

    step and make_rng (a key for the Gumbel noise) are needed by
    gumbel_softmax in training only.
    """
    probs = jax.nn.softmax(class_logits, axis=-1)
    if self.mode == model_spec.SOFTMAX:
      return probs
    if self.mode == model_spec.DETACHED:
      return jax.lax.stop_gradient(probs)
    if self.mode == model_spec.STRAIGHT_THROUGH:
      return straight_through(probs)
    if not train:
      return one_hot_argmax(class_logits)
    if step is None or make_rng is None:
      raise ValueError(
          "model.decoder_y='gumbel_softmax' needs the training step (for the "
          "temperature) and the 'latent' rng stream: call the model with "
          "train=True, step=state.step and rngs={'latent': ...}.")
    noise = jax.random.gumbel(make_rng(), class_logits.shape,
                              class_logits.dtype)
    return jax.nn.softmax((class_logits + noise) / self.temperature(step),
                          axis=-1)


class LatentHeads(nn.Module):
  """The fork at the top of every encoder: {mu, logvar} and softmax heads.

  Which heads exist follows the variant: mu/logvar only when the variant has a
  decoder, class heads only when it has a classifier. Parameters of absent
  heads are never created.

  Attributes:
    latent_dim: size of z.
    class_sizes: one class head per entry (a single entry for ordinary
      classification, one per factor for multi-head models).
    variant: one of model_spec.VARIANTS.
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
    if model_spec.has_decoder(self.variant):
      z_mean = nn.Dense(self.latent_dim, name="z_mean")(h)
      z_logvar = nn.Dense(self.latent_dim, name="z_logvar")(h)
    class_logits = ()
    if model_spec.has_classifier(self.variant):
      class_logits = tuple(
          nn.Dense(size, name=f"class_logits_{k}")(h)
          for k, size in enumerate(self.class_sizes))
    return z_mean, z_logvar, class_logits


class LikelihoodHead(nn.Module):
  """Last decoder layer: Bernoulli logits, or a Gaussian mean and variance.

  Attributes:
    likelihood: model_spec.BERNOULLI or model_spec.GAUSSIAN.
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
    if self.likelihood == model_spec.BERNOULLI:
      return loc, None
    return loc, gaussian_variance(self.make_layer(name="var")(h))


def decoder_input(z: Array, y: Optional[Array], variant: str,
                  num_classes: int, model_name: str) -> Array:
  """The decoder's input: concat(z, y) for semi_supervised and m2, z alone
  otherwise.

  Raises ValueError if y is missing where the decoder needs it, given where it
  would be ignored, or has the wrong number of classes.
  """
  if model_spec.decoder_sees_y(variant):
    if y is None:
      raise ValueError(
          f"{model_name} ({variant}) decodes concat(z, y): pass y, the "
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
  if not model_spec.has_decoder(variant):
    raise ValueError(f"{model_name} ({variant}) has no decoder.")


def decoder_y(model: nn.Module, class_logits: Optional[Array], *,
              train: bool, step: Optional[Array]) -> Optional[Array]:
  """The y that `model` (with a DecoderY field `decoder_y`) decodes.

  Call it after z is sampled: Gumbel noise takes the next key of the
  'latent' stream, so z's noise is the same in every mode.
  """
  if class_logits is None:
    return None
  return model.decoder_y(class_logits, train=train, step=step,
                         make_rng=lambda: model.make_rng(LATENT_RNG))


def single_head_forward(model: nn.Module, x: Array, *, train: bool,
                        step: Optional[Array] = None) -> model_spec.ModelOutput:
  """__call__ of a family with one class head: encode, sample, decode.

  The decoder of semi_supervised models sees model.decoder_y's code of the
  class head (softmax(class_logits) by default), so the reconstruction term
  trains the classifier on unlabeled data too.
  """
  z_mean, z_logvar, class_logits = model.encode(x, train=train)
  if not model_spec.has_decoder(model.variant):
    return model_spec.ModelOutput(class_logits=class_logits)
  z = sample_latent(model, z_mean, z_logvar)
  y = decoder_y(model, class_logits, train=train, step=step)
  recon_loc, recon_var = model.decode(z, y, train=train)
  return model_spec.ModelOutput(
      class_logits=class_logits, z_mean=z_mean, z_logvar=z_logvar, z=z,
      recon_loc=recon_loc, recon_var=recon_var)


def m2_forward(model: nn.Module, x: Array, *,
               train: bool) -> model_spec.ModelOutput:
  """__call__ of the m2 variant: q(y|x), and every class enumerated.

  `model` provides classify(x) -> [B, C] logits, encode_z(x, y) for y
  [B, C, C] (row c = one_hot(c)) -> [B, C, D] and decode(z, y). Returns
  z_mean, z_logvar, z [B, C, D] and recon_loc, recon_var [B, C, ...]: one z
  sample and one decoder pass per point and class (ssvae.losses.m2_loss).
  """
  no_labels = jnp.zeros((0,), jnp.int32)
  return m2_labeled_first(model, x, no_labels, train=train)[1]


def m2_labeled_first(model: nn.Module, x: Array, labels: Array, *,
                     train: bool) -> tuple:
  """The m2 forward for a batch whose first L = len(labels) points are
  labeled: (labeled, unlabeled) ModelOutputs, the labeled points evaluated
  at their label only (z_mean, z_logvar, z [L, 1, D], recon_loc [L, 1, ...]),
  the others at every class as in m2_forward; an empty part is None. What
  ssvae.losses.m2_loss_labeled_first takes: the same loss as m2_forward's
  without the C-1 unused z-encoder and decoder passes per labeled point.
  """
  class_logits = model.classify(x, train=train)
  num_labeled, classes = labels.shape[0], class_logits.shape[-1]

  def evaluate(logits, x_part, y):
    z_mean, z_logvar = model.encode_z(x_part, y, train=train)
    z = sample_latent(model, z_mean, z_logvar)
    recon_loc, recon_var = model.decode(z, y, train=train)
    return model_spec.ModelOutput(
        class_logits=logits, z_mean=z_mean, z_logvar=z_logvar, z=z,
        recon_loc=recon_loc, recon_var=recon_var)

  labeled = unlabeled = None
  if num_labeled:
    y = jax.nn.one_hot(labels, classes, dtype=class_logits.dtype)[:, None]
    labeled = evaluate(class_logits[:num_labeled], x[:num_labeled], y)
  if num_labeled < x.shape[0]:
    rest = x.shape[0] - num_labeled
    y = jnp.broadcast_to(jnp.eye(classes, dtype=class_logits.dtype),
                         (rest, classes, classes))
    unlabeled = evaluate(class_logits[num_labeled:], x[num_labeled:], y)
  return labeled, unlabeled


class ClassHeadVAE(nn.Module):
  """The fields the dense, cnn and rnn families share (config.model's common
  fields; see each family for what they mean there). A family subclasses it,
  redeclaring the defaults that differ (hidden_sizes, likelihood) and adding
  its own fields."""
  input_shape: tuple
  num_classes: int
  variant: str = model_spec.SEMI_SUPERVISED
  likelihood: str = model_spec.BERNOULLI
  latent_dim: int = 2
  hidden_sizes: tuple = (1024, 1024)
  dropout_rate: float = 0.0
  decoder_y: DecoderY = DecoderY()

  def decoder_inputs(self, x: Array) -> tuple:
    """(z_mean, z_logvar, y) in evaluation: the encoding of x and the y this
    model's decoder sees (model.decoder_y's code; None without a class
    head), as __call__(train=False) decodes them. What an anomaly score
    decodes, so that it scores the reconstruction the model trained."""
    z_mean, z_logvar, class_logits = self.encode(x, train=False)
    return z_mean, z_logvar, decoder_y(self, class_logits, train=False,
                                       step=None)
