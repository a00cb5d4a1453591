"""Recurrent family for sensor windows (paper Table 15, UCI-HAR [B, 128, 6]).

hidden_sizes = (dense_in, lstm, dense_out), default (40, 40, 30):
Encoder, per time step: Dense(dense_in) relu -> LSTM(lstm) -> Dense(dense_out)
  relu -> LatentHeads, so z_mean, z_logvar, z are [B, T, latent_dim] and the
  class head gives per-step logits [B, T, C].
Decoder, per step on concat(z_t, y_t): Dense(dense_out) relu -> LSTM(lstm) ->
  Dense(dense_in) relu -> Gaussian mean (linear) and variance (softplus), or
  Bernoulli logits, with x's shape [B, T, F].
Dropout (train only) follows each dense layer.

One prediction per window: class_logits = mean_t log_softmax(step_logits_t),
shape [B, C]. Its softmax is the normalized geometric mean of the per-step
class distributions (a product of experts), so every time step votes and
cross-entropy on it trains all steps. The decoder gets the per-step
softmax(step_logits_t) in __call__ (or model.decoder_y's code of it); decode(z, y) accepts y as [B, C] (one
label for the whole window, broadcast over time, e.g. for generation) or
[B, T, C].
"""

import functools
from typing import Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

from ssvae import model_spec
from ssvae.models import common

Array = jax.Array


def window_logits(step_logits: Array) -> Array:
  """[B, T, C] per-step logits -> [B, C]: mean over time of log_softmax."""
  return jnp.mean(jax.nn.log_softmax(step_logits, axis=-1), axis=1)


class RnnVAE(common.ClassHeadVAE):
  """LSTM semi-supervised / supervised / unsupervised VAE with a time axis.

  Attributes:
    input_shape: (T, F): steps per window and channels per step.
    num_classes: size of the class head.
    variant: one of model_spec.VARIANTS.
    likelihood: model_spec.GAUSSIAN (the paper's choice) or model_spec.BERNOULLI.
    latent_dim: size of z_t at each step.
    hidden_sizes: (dense_in, lstm, dense_out); the decoder mirrors them.
    dropout_rate: dropout after each dense layer, active only in training.
    decoder_y: what the semi_supervised decoder sees of y_t (common.DecoderY).
  """
  # common.ClassHeadVAE's fields, with these defaults:
  likelihood: str = model_spec.GAUSSIAN
  hidden_sizes: tuple = (40, 40, 30)

  def __post_init__(self):
    common.check_input_axes(self.input_shape, "rnn", "windows", "T, F")
    super().__post_init__()

  def setup(self):
    dense_in, lstm, dense_out = self.hidden_sizes
    self.encoder_in = nn.Dense(dense_in)
    self.encoder_lstm = nn.RNN(nn.OptimizedLSTMCell(lstm))
    self.encoder_out = nn.Dense(dense_out)
    self.dropout = nn.Dropout(self.dropout_rate)
    self.heads = common.LatentHeads(self.latent_dim, (self.num_classes,),
                                    self.variant)
    if model_spec.has_decoder(self.variant):
      self.decoder_in = nn.Dense(dense_out)
      self.decoder_lstm = nn.RNN(nn.OptimizedLSTMCell(lstm))
      self.decoder_out = nn.Dense(dense_in)
      self.recon = common.LikelihoodHead(
          self.likelihood,
          functools.partial(nn.Dense, self.input_shape[-1]))

  def _encode_steps(self, x: Array, train: bool) -> tuple:
    """Returns (z_mean, z_logvar, step_logits), all per step; None if absent."""
    common.check_input(x, self.input_shape, type(self).__name__)
    h = self.dropout(nn.relu(self.encoder_in(x)), deterministic=not train)
    h = self.encoder_lstm(h)
    h = self.dropout(nn.relu(self.encoder_out(h)), deterministic=not train)
    z_mean, z_logvar, step_logits = self.heads(h)
    return z_mean, z_logvar, step_logits[0] if step_logits else None

  def __call__(self, x: Array, *, train: bool,
               step: Optional[Array] = None) -> model_spec.ModelOutput:
    z_mean, z_logvar, step_logits = self._encode_steps(x, train)
    class_logits = None if step_logits is None else window_logits(step_logits)
    if not model_spec.has_decoder(self.variant):
      return model_spec.ModelOutput(class_logits=class_logits)
    z = common.sample_latent(self, z_mean, z_logvar)
    y = common.decoder_y(self, step_logits, train=train, step=step)
    recon_loc, recon_var = self.decode(z, y, train=train)
    return model_spec.ModelOutput(
        class_logits=class_logits, z_mean=z_mean, z_logvar=z_logvar, z=z,
        recon_loc=recon_loc, recon_var=recon_var)

  def encode(self, x: Array, *, train: bool = False) -> tuple:
    """Returns (z_mean [B,T,D], z_logvar [B,T,D], window logits [B,C])."""
    z_mean, z_logvar, step_logits = self._encode_steps(x, train)
    class_logits = None if step_logits is None else window_logits(step_logits)
    return z_mean, z_logvar, class_logits

  def decoder_inputs(self, x: Array) -> tuple:
    """(z_mean, z_logvar, y) as __call__(train=False) decodes them: y per
    time step [B, T, C] (not the window's y of encode)."""
    z_mean, z_logvar, step_logits = self._encode_steps(x, train=False)
    return z_mean, z_logvar, common.decoder_y(self, step_logits, train=False,
                                              step=None)

  def decode(self, z: Array, y: Optional[Array] = None, *,
             train: bool = False) -> tuple:
    """z [B, T, D], y [B, C] or [B, T, C] -> (recon_loc, recon_var | None)."""
    common.require_decoder(self.variant, type(self).__name__)
    if z.ndim != 3:
      raise ValueError(
          f"{type(self).__name__}.decode needs z of shape [B, T, "
          f"{self.latent_dim}]; got {tuple(z.shape)}.")
    if y is not None and y.ndim == 2:
      y = jnp.broadcast_to(y[:, None, :], z.shape[:2] + y.shape[-1:])
    elif y is not None and (y.ndim != 3 or y.shape[:2] != z.shape[:2]):
      raise ValueError(
          f"{type(self).__name__}.decode needs y of shape [B, C] or "
          f"{list(z.shape[:2]) + ['C']}; got {tuple(y.shape)}.")
    h = common.decoder_input(z, y, self.variant, self.num_classes,
                             type(self).__name__)
    h = self.dropout(nn.relu(self.decoder_in(h)), deterministic=not train)
    h = self.decoder_lstm(h)
    h = self.dropout(nn.relu(self.decoder_out(h)), deterministic=not train)
    return self.recon(h)
