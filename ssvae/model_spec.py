"""What describes a model, shared by models, losses and the training loop.

The names of the model variants (and which parts each has), of the decoder's
view of y (decoder_y), of the likelihoods and of the ways the convolutional
models compute their convolutions (conv_impl), and ModelOutput, what every
model returns. (Was ssvae/types.py, which shadowed the standard library.)
"""

from typing import Optional

import flax
import jax

Array = jax.Array

SEMI_SUPERVISED = "semi_supervised"
SUPERVISED = "supervised"
UNSUPERVISED = "unsupervised"
# Kingma et al. (2014)'s M2: separate networks q(y|x) and q(z|x, y), and the
# ELBO enumerated over one-hot y (ssvae.losses.m2_loss).
M2 = "m2"
# The paper's model and its siblings, implemented by every family.
ONE_MODEL_VARIANTS = (SEMI_SUPERVISED, SUPERVISED, UNSUPERVISED)
VARIANTS = ONE_MODEL_VARIANTS + (M2,)

# What the decoder of the semi_supervised model sees of y
# (ssvae.models.common.decoder_class_code): the paper's softmax, its one-hot
# argmax with the softmax's gradient, a Gumbel-softmax sample, or the softmax
# with no gradient into the class head.
SOFTMAX = "softmax"
STRAIGHT_THROUGH = "straight_through"
GUMBEL_SOFTMAX = "gumbel_softmax"
DETACHED = "detached"
DECODER_Y_MODES = (SOFTMAX, STRAIGHT_THROUGH, GUMBEL_SOFTMAX, DETACHED)

BERNOULLI = "bernoulli"
GAUSSIAN = "gaussian"
LIKELIHOODS = (BERNOULLI, GAUSSIAN)

# How a convolutional model computes its convolutions (its conv_impl field;
# ssvae.models.fast_conv): every layer as flax computes it (XLA, also the
# name of flax's form of one layer), the per-layer forms measured fastest on
# XLA:CPU (CPU; each model says which), or CPU when jax's default backend is
# the CPU, else XLA (AUTO: accelerators keep flax's layers).
AUTO = "auto"
XLA = "xla"
CPU = "cpu"
CONV_IMPL_MODES = (AUTO, XLA, CPU)


def has_classifier(variant: str) -> bool:
  return variant in (SEMI_SUPERVISED, SUPERVISED, M2)


def has_decoder(variant: str) -> bool:
  return variant in (SEMI_SUPERVISED, UNSUPERVISED, M2)


def decoder_sees_y(variant: str) -> bool:
  """Whether the decoder is p(x | z, y) (True) or p(x | z)."""
  return variant in (SEMI_SUPERVISED, M2)


@flax.struct.dataclass
class ModelOutput:
  """What every model's `__call__` returns; fields a variant lacks are None.

  class_logits: [B, C] pre-softmax class scores (y = softmax(class_logits)).
  z_mean, z_logvar, z: [B, D] posterior parameters and one reparameterized
    sample (the rnn family has a time axis: [B, T, D]).
  recon_loc: decoder output with the shape of x: Bernoulli logits, or the
    Gaussian mean.
  recon_var: Gaussian variance (softplus output); None for Bernoulli.
  factor_logits: multi-head models only, one [B, C_k] array per factor. These
    heads are a loss only and never feed the decoder.

  The m2 variant enumerates the classes: z_mean, z_logvar, z are [B, C, D]
  (q(z | x, y=c) for every class c) and recon_loc, recon_var are
  [B, C, *x.shape[1:]] (p(x | z_c, y=c)); class_logits stays [B, C].
  """
  class_logits: Optional[Array] = None
  z_mean: Optional[Array] = None
  z_logvar: Optional[Array] = None
  z: Optional[Array] = None
  recon_loc: Optional[Array] = None
  recon_var: Optional[Array] = None
  factor_logits: tuple = ()
