"""Types shared by models, losses and the training loop."""

from typing import Optional

import flax
import jax

Array = jax.Array

SEMI_SUPERVISED = "semi_supervised"
SUPERVISED = "supervised"
UNSUPERVISED = "unsupervised"
VARIANTS = (SEMI_SUPERVISED, SUPERVISED, UNSUPERVISED)

BERNOULLI = "bernoulli"
GAUSSIAN = "gaussian"
LIKELIHOODS = (BERNOULLI, GAUSSIAN)


def has_classifier(variant: str) -> bool:
  return variant in (SEMI_SUPERVISED, SUPERVISED)


def has_decoder(variant: str) -> bool:
  return variant in (SEMI_SUPERVISED, UNSUPERVISED)


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
  """
  class_logits: Optional[Array] = None
  z_mean: Optional[Array] = None
  z_logvar: Optional[Array] = None
  z: Optional[Array] = None
  recon_loc: Optional[Array] = None
  recon_var: Optional[Array] = None
  factor_logits: tuple = ()
