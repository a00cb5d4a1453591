"""Model families and the factory that builds one from a config.

Every model is a Flax linen module with the same API:
  __call__(x, *, train, step=None) -> model_spec.ModelOutput  (step: the
    training step, read by schedules such as the Gumbel-softmax temperature)
  encode(x, *, train=False) -> (z_mean, z_logvar, class_logits)
  decode(z, y=None, *, train=False) -> (recon_loc, recon_var)
and uses the rng streams 'latent' (z sampling; needed whenever the variant has
a decoder; model.decoder_y=gumbel_softmax draws its noise from it too) and
'dropout' (only when train=True and dropout_rate > 0). The cnn
family also keeps a 'batch_stats' collection (apply with
mutable=['batch_stats'] when train=True).

Config fields (config.model), read by `build_model`:
  family: one of FAMILIES, or AUTO: chosen from the data (family_for_input;
    resolved by ssvae.train before build_model is called).
  variant: one of model_spec.VARIANTS; m2 (Kingma et al.'s M2) for M2_FAMILIES
    only, which also provide classify(x) and encode_z(x, y).
  decoder_y, gumbel_temperature, gumbel_temperature_min, gumbel_anneal_steps:
    what the semi_supervised decoder sees of y (common.DecoderY); families
    whose decoder sees y only (not multihead_cnn).
  latent_dim, hidden_sizes, dropout_rate: see each family; hidden_sizes means
    dense widths for dense / cnn (after the convs) / multihead_cnn (after the
    convs), and (dense_in, lstm, dense_out) for rnn.
  Optional, cnn: conv_channels (64, 64, 64), conv_strides (1, 1, 2),
    kernel_size 3, batch_norm_momentum 0.99, conv_impl 'auto'.
  Optional, multihead_cnn: conv_channels (32, 32, 64, 64), decoder_channels
    (64, 32, 32), kernel_size 4, conv_impl 'auto'.
  conv_impl (cnn, multihead_cnn): how the convolutions are computed, one of
    model_spec.CONV_IMPL_MODES; the same model and parameters either way
    ('auto': the forms measured fastest on XLA:CPU when jax runs on the CPU,
    flax's layers elsewhere). Not in the configs: an implementation detail.
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from ssvae import errors
from ssvae import model_spec
from ssvae.models import common
from ssvae.models.cnn import CnnVAE
from ssvae.models.dense import DenseVAE
from ssvae.models.multihead import MultiHeadCnnVAE
from ssvae.models.rnn import RnnVAE

DENSE = "dense"
CNN = "cnn"
RNN = "rnn"
MULTIHEAD_CNN = "multihead_cnn"
FAMILIES = (DENSE, CNN, RNN, MULTIHEAD_CNN)
# model.family "auto": chosen from the shape of one example (family_for_input).
AUTO = "auto"
# Families that implement the m2 variant.
M2_FAMILIES = (DENSE,)
# Families whose decoder sees y, and so take model.decoder_y.
DECODER_Y_FAMILIES = (DENSE, CNN, RNN)

# Paper sizes (Tables 13-16), used when the config has no such field.
_DEFAULT_HIDDEN_SIZES = {
    DENSE: (1024, 1024),
    CNN: (512,),
    RNN: (40, 40, 30),
    MULTIHEAD_CNN: (256,),
}
_DEFAULT_LATENT_DIM = {DENSE: 2, CNN: 2, RNN: 2, MULTIHEAD_CNN: 10}

# Family-specific optional config fields and the module field each sets.
_EXTRA_FIELDS = {
    DENSE: (),
    CNN: ("conv_channels", "conv_strides", "kernel_size",
          "batch_norm_momentum", "conv_impl"),
    RNN: (),
    MULTIHEAD_CNN: ("conv_channels", "decoder_channels", "kernel_size",
                    "conv_impl"),
}

_SEQUENCE_FIELDS = ("hidden_sizes", "conv_channels", "conv_strides",
                    "decoder_channels")


def _read(model_config: Any, name: str, default: Any) -> Any:
  value = model_config.get(name, default)
  if name in _SEQUENCE_FIELDS and isinstance(value, (list, tuple)):
    value = tuple(value)
  return value


def _multihead_factor_sizes(factor_sizes: tuple, num_classes: int) -> tuple:
  """Factor sizes of a multi-head model; single-label data is one factor."""
  factor_sizes = tuple(factor_sizes)
  if not factor_sizes:
    return (num_classes,)
  if factor_sizes[0] != num_classes:
    raise errors.ConfigError(
        f"factor_sizes[0]={factor_sizes[0]} must equal num_classes="
        f"{num_classes} (num_classes describes factor 0).")
  return factor_sizes


def decoder_y_from_config(model_config: Any) -> common.DecoderY:
  """config.model's decoder_y fields (absent fields: the paper's softmax)."""
  default = common.DecoderY()
  return common.DecoderY(
      mode=model_config.get("decoder_y", default.mode),
      gumbel_temperature=float(model_config.get(
          "gumbel_temperature", default.gumbel_temperature)),
      gumbel_temperature_min=float(model_config.get(
          "gumbel_temperature_min", default.gumbel_temperature_min)),
      gumbel_anneal_steps=model_config.get(
          "gumbel_anneal_steps", default.gumbel_anneal_steps))


def family_for_input(input_shape: tuple) -> str:
  """The family model.family='auto' means for examples of `input_shape`:
  rnn for time series [T, features], dense for images [H, W, C]."""
  if len(input_shape) == 2:
    return RNN
  if len(input_shape) == 3:
    return DENSE
  raise errors.ConfigError(
      f"config.model.family='auto' cannot choose a family for examples of "
      f"shape {tuple(input_shape)}: expected time series [T, features] or "
      "images [H, W, C]; set model.family.")


def build_model(model_config: Any, *, input_shape: tuple, num_classes: int,
                likelihood: str, factor_sizes: tuple = ()) -> nn.Module:
  """Builds the model that `model_config` (config.model) describes.

  Args:
    model_config: ConfigDict (or dict) with the fields in the module
      docstring, as ssvae.config_validation.validate accepts them (its
      fields are checked there, once, not again here).
    input_shape: shape of one example, e.g. Dataset.input_shape.
    num_classes: classes of the y head (multi-factor data: of factor 0).
    likelihood: model_spec.BERNOULLI or model_spec.GAUSSIAN.
    factor_sizes: classes per factor; used by multihead_cnn only.

  Raises:
    ConfigError: data the family cannot take (input shape, factor sizes).
  """
  family = model_config.get("family")
  input_shape = tuple(int(n) for n in input_shape)
  fields = dict(
      input_shape=input_shape,
      variant=model_config.get("variant"),
      likelihood=likelihood,
      latent_dim=_read(model_config, "latent_dim",
                       _DEFAULT_LATENT_DIM[family]),
      hidden_sizes=_read(model_config, "hidden_sizes",
                         _DEFAULT_HIDDEN_SIZES[family]),
      dropout_rate=float(_read(model_config, "dropout_rate", 0.0)),
  )
  for name in _EXTRA_FIELDS[family]:
    if name in model_config:
      fields[name] = _read(model_config, name, None)
  if family in DECODER_Y_FAMILIES:
    fields["decoder_y"] = decoder_y_from_config(model_config)
  if family == MULTIHEAD_CNN:
    return MultiHeadCnnVAE(
        factor_sizes=_multihead_factor_sizes(factor_sizes, num_classes),
        **fields)
  model_class = {DENSE: DenseVAE, CNN: CnnVAE, RNN: RnnVAE}[family]
  return model_class(num_classes=num_classes, **fields)


def init_variables(model: nn.Module, rng: jax.Array,
                   batch_size: int = 2) -> dict:
  """Initial variables ('params', plus 'batch_stats' for cnn) of `model`.

  Traces the model once in eval mode on zeros of shape
  [batch_size, *model.input_shape], with every rng stream it may use.
  """
  params_rng, latent_rng, dropout_rng = jax.random.split(rng, 3)
  x = jnp.zeros((batch_size,) + tuple(model.input_shape), jnp.float32)
  rngs = {"params": params_rng, common.LATENT_RNG: latent_rng,
          "dropout": dropout_rng}
  return model.init(rngs, x, train=False)


__all__ = [
    "AUTO", "DECODER_Y_FAMILIES", "FAMILIES", "M2_FAMILIES", "build_model",
    "family_for_input", "init_variables", "CnnVAE", "DenseVAE",
    "MultiHeadCnnVAE", "RnnVAE",
]
