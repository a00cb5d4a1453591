"""Fully connected family (paper Table 13), and Kingma et al.'s M2 in it.

Encoder: flatten -> Dense(h) relu for h in hidden_sizes -> LatentHeads.
Decoder (mirror): Dense(h) relu for h in reversed(hidden_sizes) ->
Dense(prod(input_shape)) reshaped to x's shape (Bernoulli logits, or Gaussian
mean and variance). Dropout (rate `dropout_rate`, train only) follows every
hidden layer.

Variant m2 (Kingma et al. 2014) has two encoders of the same widths:
q(y|x) (flatten -> Dense(h) relu ... -> class logits) and q(z|x, y)
(concat(flatten x, one-hot y) -> Dense(h) relu ... -> mu, logvar); the
decoder is the one above on concat(z, one-hot y). The first layer of q(z|x, y)
is computed as Dense(x) + Dense_nobias(y), which equals a Dense layer on
concat(x, y) but computes the x part once when every class is enumerated.
"""

import functools
import math
from typing import Optional

import flax.linen as nn
import jax

from ssvae import model_spec
from ssvae.models import common

Array = jax.Array


def _flatten(x: Array) -> Array:
  return x.reshape(x.shape[0], -1)


class DenseVAE(common.ClassHeadVAE):
  """Dense semi-supervised / supervised / unsupervised VAE, or M2.

  Attributes:
    input_shape: shape of one example (any rank; it is flattened).
    num_classes: size of the class head.
    variant: one of model_spec.VARIANTS.
    likelihood: model_spec.BERNOULLI or model_spec.GAUSSIAN.
    latent_dim: size of z.
    hidden_sizes: encoder widths (both encoders of m2); the decoder uses them
      reversed.
    dropout_rate: dropout after each hidden layer, active only in training.
    decoder_y: what the semi_supervised decoder sees of y (common.DecoderY).
  """
  # The fields are common.ClassHeadVAE's.

  def setup(self):
    is_m2 = self.variant == model_spec.M2
    self.encoder_layers = [nn.Dense(size) for size in self.hidden_sizes]
    self.dropout = nn.Dropout(self.dropout_rate)
    # m2: this encoder is q(z | x, y), with mu and logvar heads only.
    self.heads = common.LatentHeads(
        self.latent_dim, (self.num_classes,),
        model_spec.UNSUPERVISED if is_m2 else self.variant)
    if is_m2:
      self.classifier_layers = [nn.Dense(size) for size in self.hidden_sizes]
      self.classifier_heads = common.LatentHeads(
          self.latent_dim, (self.num_classes,), model_spec.SUPERVISED)
      self.encoder_y = nn.Dense(self.hidden_sizes[0], use_bias=False)
    if model_spec.has_decoder(self.variant):
      self.decoder_layers = [
          nn.Dense(size) for size in reversed(self.hidden_sizes)]
      self.recon = common.LikelihoodHead(
          self.likelihood,
          functools.partial(nn.Dense, math.prod(self.input_shape)))

  def _hidden(self, layers, h: Array, train: bool) -> Array:
    for layer in layers:
      h = self.dropout(nn.relu(layer(h)), deterministic=not train)
    return h

  def __call__(self, x: Array, *, train: bool,
               step: Optional[Array] = None) -> model_spec.ModelOutput:
    if self.variant == model_spec.M2:
      return common.m2_forward(self, x, train=train)
    return common.single_head_forward(self, x, train=train, step=step)

  def m2_labeled_first(self, x: Array, labels: Array, *,
                       train: bool) -> tuple:
    """m2 only: common.m2_labeled_first (the first len(labels) points of x
    labeled), for training steps on the sampler's labeled-first batches."""
    return common.m2_labeled_first(self, x, labels, train=train)

  def encode(self, x: Array, *, train: bool = False) -> tuple:
    """Returns (z_mean, z_logvar, class_logits); None where absent.

    m2: z's posterior is q(z | x, y) at y = one_hot(argmax q(y|x)).
    """
    common.check_input(x, self.input_shape, type(self).__name__)
    if self.variant == model_spec.M2:
      class_logits = self.classify(x, train=train)
      z_mean, z_logvar = self.encode_z(
          x, common.one_hot_argmax(class_logits), train=train)
      return z_mean, z_logvar, class_logits
    h = self._hidden(self.encoder_layers, _flatten(x), train)
    z_mean, z_logvar, class_logits = self.heads(h)
    return z_mean, z_logvar, class_logits[0] if class_logits else None

  def classify(self, x: Array, *, train: bool = False) -> Array:
    """m2's q(y|x): class logits [B, C] from its own network."""
    h = self._hidden(self.classifier_layers, _flatten(x), train)
    return self.classifier_heads(h)[2][0]

  def encode_z(self, x: Array, y: Array, *, train: bool = False) -> tuple:
    """m2's q(z | x, y) -> (z_mean, z_logvar).

    y: [B, C] (one label code per point) -> [B, D] each, or [B, K, C]
    (K codes per point, e.g. every class) -> [B, K, D] each.
    """
    h_x = self.encoder_layers[0](_flatten(x))
    if y.ndim == 3:
      h_x = h_x[:, None, :]
    h = self.dropout(nn.relu(h_x + self.encoder_y(y.astype(h_x.dtype))),
                     deterministic=not train)
    h = self._hidden(self.encoder_layers[1:], h, train)
    z_mean, z_logvar, _ = self.heads(h)
    return z_mean, z_logvar

  def decode(self, z: Array, y: Optional[Array] = None, *,
             train: bool = False) -> tuple:
    """Returns (recon_loc, recon_var | None), each [*z.shape[:-1],
    *input_shape] (z [B, D], or [B, K, D] with y [B, K, C])."""
    common.require_decoder(self.variant, type(self).__name__)
    h = common.decoder_input(z, y, self.variant, self.num_classes,
                             type(self).__name__)
    h = self._hidden(self.decoder_layers, h, train)
    loc, var = self.recon(h)
    shape = tuple(z.shape[:-1]) + tuple(self.input_shape)
    return loc.reshape(shape), None if var is None else var.reshape(shape)
