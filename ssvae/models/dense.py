"""Fully connected family (paper Table 13).

Encoder: flatten -> Dense(h) relu for h in hidden_sizes -> LatentHeads.
Decoder (mirror): Dense(h) relu for h in reversed(hidden_sizes) ->
Dense(prod(input_shape)) reshaped to x's shape (Bernoulli logits, or Gaussian
mean and variance). Dropout (rate `dropout_rate`, train only) follows every
hidden layer.
"""

import functools
import math
from typing import Optional

import flax.linen as nn
import jax

from ssvae import types
from ssvae.models import common

Array = jax.Array


class DenseVAE(nn.Module):
  """Dense semi-supervised / supervised / unsupervised VAE.

  Attributes:
    input_shape: shape of one example (any rank; it is flattened).
    num_classes: size of the class head.
    variant: one of types.VARIANTS.
    likelihood: types.BERNOULLI or types.GAUSSIAN.
    latent_dim: size of z.
    hidden_sizes: encoder widths; the decoder uses them reversed.
    dropout_rate: dropout after each hidden layer, active only in training.
  """
  input_shape: tuple
  num_classes: int
  variant: str = types.SEMI_SUPERVISED
  likelihood: str = types.BERNOULLI
  latent_dim: int = 2
  hidden_sizes: tuple = (1024, 1024)
  dropout_rate: float = 0.0

  def __post_init__(self):
    common.check_model_fields(self.variant, self.likelihood, self.latent_dim,
                              self.hidden_sizes, self.dropout_rate)
    super().__post_init__()

  def setup(self):
    self.encoder_layers = [nn.Dense(size) for size in self.hidden_sizes]
    self.dropout = nn.Dropout(self.dropout_rate)
    self.heads = common.LatentHeads(self.latent_dim, (self.num_classes,),
                                    self.variant)
    if types.has_decoder(self.variant):
      self.decoder_layers = [
          nn.Dense(size) for size in reversed(self.hidden_sizes)]
      self.recon = common.LikelihoodHead(
          self.likelihood,
          functools.partial(nn.Dense, math.prod(self.input_shape)))

  def __call__(self, x: Array, *, train: bool) -> types.ModelOutput:
    return common.single_head_forward(self, x, train=train)

  def encode(self, x: Array, *, train: bool = False) -> tuple:
    """Returns (z_mean, z_logvar, class_logits); None where absent."""
    common.check_input(x, self.input_shape, type(self).__name__)
    h = x.reshape(x.shape[0], -1)
    for layer in self.encoder_layers:
      h = self.dropout(nn.relu(layer(h)), deterministic=not train)
    z_mean, z_logvar, class_logits = self.heads(h)
    return z_mean, z_logvar, class_logits[0] if class_logits else None

  def decode(self, z: Array, y: Optional[Array] = None, *,
             train: bool = False) -> tuple:
    """Returns (recon_loc, recon_var | None), each [B, *input_shape]."""
    common.require_decoder(self.variant, type(self).__name__)
    h = common.decoder_input(z, y, self.variant, self.num_classes,
                             type(self).__name__)
    for layer in self.decoder_layers:
      h = self.dropout(nn.relu(layer(h)), deterministic=not train)
    loc, var = self.recon(h)
    shape = (z.shape[0],) + tuple(self.input_shape)
    return loc.reshape(shape), None if var is None else var.reshape(shape)
