"""Multi-head convolutional family for disentanglement (paper Table 16).

Encoder: len(conv_channels) convs (default 32-32-64-64), kernel 4, stride 2,
  SAME, relu -> flatten -> Dense(h) relu for h in hidden_sizes (default 256)
  -> LatentHeads: {mu, logvar} plus one softmax head per factor.
Decoder (z only): Dense(h) relu for h in reversed(hidden_sizes) -> Dense to
  (H/f, W/f, conv_channels[-1]) relu, f = 2 ** len(conv_channels) -> stride-2
  transposed convs with decoder_channels (default 64-32-32) relu -> a last
  stride-2 transposed conv to C channels (Bernoulli logits by default).

The factor heads are a loss only: they sit on the topmost encoder layer and
the decoder never sees them, so a factor cannot bypass z. Variants:
semi_supervised = VAE + heads, unsupervised = VAE only, supervised = encoder +
heads only. ModelOutput.class_logits is factor_logits[0] for convenience.
"""

import functools
import math
from typing import Optional

import flax.linen as nn
import jax

from ssvae import errors
from ssvae import model_spec
from ssvae.models import common
from ssvae.models import fast_conv

Array = jax.Array


class MultiHeadCnnVAE(nn.Module):
  """Convolutional VAE with one classifier head per generative factor.

  Attributes:
    input_shape: (H, W, C); H and W divisible by 2 ** len(conv_channels)
      (16 by default: 64x64x1 dSprites, 96x96x2 Small-NORB stereo pairs).
    factor_sizes: number of classes of each factor, one head each.
    variant: one of model_spec.VARIANTS.
    likelihood: model_spec.BERNOULLI (default) or model_spec.GAUSSIAN.
    latent_dim: size of z.
    hidden_sizes: dense widths after the conv stack (decoder: reversed).
    dropout_rate: dropout after the dense layers, active only in training.
    conv_channels: encoder conv channels, each conv halving H and W.
    decoder_channels: channels of the decoder's transposed convs before the
      last one to C; needs len(conv_channels) - 1 entries.
    kernel_size: square kernel of every conv.
    conv_impl: how the convolutions are computed (model_spec.CONV_IMPL_MODES;
      the same function and parameters either way). The CPU forms: encoder
      convs take their input gradient from the space-to-depth form, and the
      decoder's transposed convs are sub-pixel convs.
  """
  input_shape: tuple
  factor_sizes: tuple
  variant: str = model_spec.SEMI_SUPERVISED
  likelihood: str = model_spec.BERNOULLI
  latent_dim: int = 10
  hidden_sizes: tuple = (256,)
  dropout_rate: float = 0.0
  conv_channels: tuple = (32, 32, 64, 64)
  decoder_channels: tuple = (64, 32, 32)
  kernel_size: int = 4
  conv_impl: str = model_spec.AUTO

  def __post_init__(self):
    # The config's fields are checked by ssvae.config_validation; the data's
    # (shape, factor sizes) here, where they meet the family.
    if model_spec.has_classifier(self.variant) and (
        not self.factor_sizes or not all(
            isinstance(n, int) and n > 0 for n in self.factor_sizes)):
      raise errors.ConfigError(
          f"factor_sizes={tuple(self.factor_sizes)!r} must be a non-empty "
          "sequence of positive integers.")
    factor = 2 ** len(self.conv_channels)
    if len(self.input_shape) != 3 or any(
        n % factor for n in self.input_shape[:2]):
      raise errors.ConfigError(
          f"family multihead_cnn needs images (H, W, C) with H and W "
          f"divisible by {factor} (one halving per conv layer); got "
          f"input_shape={tuple(self.input_shape)}.")
    super().__post_init__()

  def setup(self):
    kernel = (self.kernel_size, self.kernel_size)
    cpu = fast_conv.use_cpu_forms(self.conv_impl)
    self.encoder_convs = [
        fast_conv.Conv(channels, kernel, (2, 2),
                       impl=(fast_conv.SPACE_TO_DEPTH_GRAD if cpu
                             else model_spec.XLA))
        for channels in self.conv_channels]
    self.encoder_dense = [nn.Dense(size) for size in self.hidden_sizes]
    self.dropout = nn.Dropout(self.dropout_rate)
    self.heads = common.LatentHeads(self.latent_dim, tuple(self.factor_sizes),
                                    self.variant)
    if model_spec.has_decoder(self.variant):
      self.decoder_dense = [
          nn.Dense(size) for size in reversed(self.hidden_sizes)]
      self.decoder_to_map = nn.Dense(math.prod(self._conv_map_shape()))
      upsample = fast_conv.SUBPIXEL if cpu else model_spec.XLA
      self.decoder_convs = [
          fast_conv.ConvTranspose(channels, kernel, (2, 2), impl=upsample)
          for channels in self.decoder_channels]
      self.recon = common.LikelihoodHead(
          self.likelihood,
          functools.partial(fast_conv.ConvTranspose, self.input_shape[-1],
                            kernel, (2, 2), impl=upsample))

  def _conv_map_shape(self) -> tuple:
    """(h, w, channels) of the encoder's last conv map."""
    factor = 2 ** len(self.conv_channels)
    height, width = self.input_shape[:2]
    return (height // factor, width // factor, self.conv_channels[-1])

  def _encode(self, x: Array, train: bool) -> tuple:
    """Returns (z_mean | None, z_logvar | None, tuple of factor logits)."""
    common.check_input(x, self.input_shape, type(self).__name__)
    h = x
    for conv in self.encoder_convs:
      h = nn.relu(conv(h))
    h = h.reshape(h.shape[0], -1)
    for dense in self.encoder_dense:
      h = self.dropout(nn.relu(dense(h)), deterministic=not train)
    return self.heads(h)

  def __call__(self, x: Array, *, train: bool,
               step: Optional[Array] = None) -> model_spec.ModelOutput:
    """step is accepted for a uniform API; this decoder does not see y."""
    del step
    z_mean, z_logvar, factor_logits = self._encode(x, train)
    class_logits = factor_logits[0] if factor_logits else None
    if not model_spec.has_decoder(self.variant):
      return model_spec.ModelOutput(class_logits=class_logits,
                               factor_logits=factor_logits)
    z = common.sample_latent(self, z_mean, z_logvar)
    recon_loc, recon_var = self.decode(z, train=train)
    return model_spec.ModelOutput(
        class_logits=class_logits, z_mean=z_mean, z_logvar=z_logvar, z=z,
        recon_loc=recon_loc, recon_var=recon_var, factor_logits=factor_logits)

  def encode(self, x: Array, *, train: bool = False) -> tuple:
    """Returns (z_mean, z_logvar, logits of factor 0); None where absent."""
    z_mean, z_logvar, factor_logits = self._encode(x, train)
    return z_mean, z_logvar, factor_logits[0] if factor_logits else None

  def decoder_inputs(self, x: Array) -> tuple:
    """(z_mean, z_logvar, None): this decoder sees z only."""
    z_mean, z_logvar, _ = self._encode(x, False)
    return z_mean, z_logvar, None

  def decode(self, z: Array, y: Optional[Array] = None, *,
             train: bool = False) -> tuple:
    """z [B, D] -> (recon_loc, recon_var | None); y must be None (z only)."""
    common.require_decoder(self.variant, type(self).__name__)
    if y is not None:
      raise ValueError(
          f"{type(self).__name__} decodes z only (its factor heads are a "
          "loss, not a decoder input); y must be None.")
    h = z
    for dense in self.decoder_dense:
      h = self.dropout(nn.relu(dense(h)), deterministic=not train)
    h = nn.relu(self.decoder_to_map(h))
    h = h.reshape((h.shape[0],) + self._conv_map_shape())
    for conv in self.decoder_convs:
      h = nn.relu(conv(h))
    return self.recon(h)
