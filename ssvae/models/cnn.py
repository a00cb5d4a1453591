"""Convolutional family with batch norm (paper Table 14, 28x28x1 inputs).

Encoder: for each (channels, stride) in zip(conv_channels, conv_strides):
  Conv kxk SAME -> BatchNorm -> relu; flatten; for each width in hidden_sizes:
  Dense -> BatchNorm -> relu -> dropout; LatentHeads.
Decoder: Dense(flat size of the last conv map) -> BatchNorm -> relu -> dropout
  -> reshape to that map -> for each (channels, stride) in
  zip(reversed(conv_channels), conv_strides): ConvTranspose -> BatchNorm ->
  relu -> ConvTranspose(C, stride 1) -> crop to input_shape.

With the defaults (64-64-64 channels, strides 1-1-2, kernel 3, one dense layer
of 512) and 28x28x1 inputs this is Table 14: flatten size 14*14*64 = 12544, and
the last of the three 64-channel transposed convs upsamples 14 -> 28. Spatial
sizes are derived from input_shape (ceil(n / stride) per SAME conv), so any
H x W works; when a size is odd the decoder overshoots by one pixel and the
output is cropped back.

Batch norm keeps running statistics in the 'batch_stats' collection: apply
with mutable=['batch_stats'] when train=True; with train=False the running
averages are used and never updated.
"""

import functools
import math
from typing import Optional

import flax.linen as nn
import jax

from ssvae import model_spec
from ssvae.models import common
from ssvae.models import fast_conv

Array = jax.Array


def conv_output_sizes(spatial: tuple, strides: tuple) -> tuple:
  """Spatial size (H, W) after SAME convs with `strides`: ceil(n / s) each."""
  for stride in strides:
    spatial = tuple(-(-n // stride) for n in spatial)
  return spatial


class CnnVAE(common.ClassHeadVAE):
  """Convolutional semi-supervised / supervised / unsupervised VAE.

  Attributes:
    input_shape: (H, W, C) of one image.
    num_classes: size of the class head.
    variant: one of model_spec.VARIANTS.
    likelihood: model_spec.BERNOULLI or model_spec.GAUSSIAN.
    latent_dim: size of z.
    hidden_sizes: dense widths between the conv stack and the heads (encoder
      only; the decoder maps z straight to the conv map, as in Table 14).
    dropout_rate: dropout after the dense layers, active only in training.
    conv_channels: channels of the encoder convs (reversed in the decoder).
    conv_strides: stride of each encoder conv; the decoder's transposed convs
      use the same order, so the last one upsamples (Table 14).
    kernel_size: square kernel of every conv.
    batch_norm_momentum: decay of the running batch statistics.
    decoder_y: what the semi_supervised decoder sees of y (common.DecoderY).
    conv_impl: how the convolutions are computed (model_spec.CONV_IMPL_MODES;
      the same function and parameters either way). The CPU forms: strided
      encoder convs take their input gradient from the space-to-depth form,
      strided transposed convs are sub-pixel convs, and the output layer
      (few channels, stride 1) is a shifted sum of per-tap matmuls.
  """
  # common.ClassHeadVAE's fields with this hidden_sizes default; the convs':
  hidden_sizes: tuple = (512,)
  conv_channels: tuple = (64, 64, 64)
  conv_strides: tuple = (1, 1, 2)
  kernel_size: int = 3
  batch_norm_momentum: float = 0.99
  conv_impl: str = model_spec.AUTO

  def __post_init__(self):
    common.check_input_axes(self.input_shape, "cnn", "images", "H, W, C")
    super().__post_init__()

  def setup(self):
    kernel = (self.kernel_size, self.kernel_size)
    norm = functools.partial(nn.BatchNorm, momentum=self.batch_norm_momentum)
    cpu = fast_conv.use_cpu_forms(self.conv_impl)
    self.encoder_convs = [
        fast_conv.Conv(channels, kernel, (stride, stride),
                       impl=(fast_conv.SPACE_TO_DEPTH_GRAD if cpu
                             else model_spec.XLA))
        for channels, stride in zip(self.conv_channels, self.conv_strides)]
    self.encoder_conv_norms = [norm() for _ in self.conv_channels]
    self.encoder_dense = [nn.Dense(size) for size in self.hidden_sizes]
    self.encoder_dense_norms = [norm() for _ in self.hidden_sizes]
    self.dropout = nn.Dropout(self.dropout_rate)
    self.heads = common.LatentHeads(self.latent_dim, (self.num_classes,),
                                    self.variant)
    if model_spec.has_decoder(self.variant):
      self.decoder_dense = nn.Dense(math.prod(self._conv_map_shape()))
      self.decoder_dense_norm = norm()
      self.decoder_convs = [
          fast_conv.ConvTranspose(channels, kernel, (stride, stride),
                                  impl=(fast_conv.SUBPIXEL if cpu
                                        else model_spec.XLA))
          for channels, stride in zip(reversed(self.conv_channels),
                                      self.conv_strides)]
      self.decoder_conv_norms = [norm() for _ in self.conv_channels]
      self.recon = common.LikelihoodHead(
          self.likelihood,
          functools.partial(fast_conv.ConvTranspose, self.input_shape[-1],
                            kernel, impl=(fast_conv.SHIFTED_SUM if cpu
                                          else model_spec.XLA)))

  def _conv_map_shape(self) -> tuple:
    """(h, w, channels) of the encoder's last conv map."""
    spatial = conv_output_sizes(tuple(self.input_shape[:2]), self.conv_strides)
    return spatial + (self.conv_channels[-1],)

  def __call__(self, x: Array, *, train: bool,
               step: Optional[Array] = None) -> model_spec.ModelOutput:
    return common.single_head_forward(self, x, train=train, step=step)

  def encode(self, x: Array, *, train: bool = False) -> tuple:
    """Returns (z_mean, z_logvar, class_logits); None where absent."""
    common.check_input(x, self.input_shape, type(self).__name__)
    h = x
    for conv, norm in zip(self.encoder_convs, self.encoder_conv_norms):
      h = nn.relu(norm(conv(h), use_running_average=not train))
    h = h.reshape(h.shape[0], -1)
    for dense, norm in zip(self.encoder_dense, self.encoder_dense_norms):
      h = nn.relu(norm(dense(h), use_running_average=not train))
      h = self.dropout(h, deterministic=not train)
    z_mean, z_logvar, class_logits = self.heads(h)
    return z_mean, z_logvar, class_logits[0] if class_logits else None

  def decode(self, z: Array, y: Optional[Array] = None, *,
             train: bool = False) -> tuple:
    """Returns (recon_loc, recon_var | None), each [B, H, W, C]."""
    common.require_decoder(self.variant, type(self).__name__)
    h = common.decoder_input(z, y, self.variant, self.num_classes,
                             type(self).__name__)
    h = self.decoder_dense_norm(self.decoder_dense(h),
                                use_running_average=not train)
    h = self.dropout(nn.relu(h), deterministic=not train)
    h = h.reshape((h.shape[0],) + self._conv_map_shape())
    for conv, norm in zip(self.decoder_convs, self.decoder_conv_norms):
      h = nn.relu(norm(conv(h), use_running_average=not train))
    loc, var = self.recon(h)
    height, width = self.input_shape[:2]
    crop = lambda a: None if a is None else a[:, :height, :width, :]
    return crop(loc), crop(var)
