"""ssvae: the semi-supervised VAE of Berkhahn et al. (2019) in JAX/Flax.

The names below are the public API for using the loss in your own model
(examples/bring_your_own_model.py, README "Use the loss in your own model"):
the loss and its terms, pure functions of arrays, and the 1:1
labeled/unlabeled batch sampler with its class-balanced label selection.

Importing ssvae first sets the XLA:CPU flags of ssvae/xla_flags.py (CPU
runs only; SSVAE_XLA_CPU_FLAGS=0 opts out), before jax starts a backend.
"""

from ssvae import xla_flags

xla_flags.configure()

# pylint: disable=g-import-not-at-top,wrong-import-position

from ssvae.data.labels import select_labeled_indices
from ssvae.data.sampler import make_pools
from ssvae.data.sampler import Pools
from ssvae.data.sampler import sample_batch
from ssvae.data.sampler import sampling_mode
from ssvae.losses import bernoulli_log_likelihood
from ssvae.losses import gaussian_log_likelihood
from ssvae.losses import kl_to_standard_normal
from ssvae.losses import masked_cross_entropy
from ssvae.losses import reconstruction_log_likelihood
from ssvae.losses import ssvae_loss

__all__ = [
    "bernoulli_log_likelihood",
    "gaussian_log_likelihood",
    "kl_to_standard_normal",
    "make_pools",
    "masked_cross_entropy",
    "Pools",
    "reconstruction_log_likelihood",
    "sample_batch",
    "sampling_mode",
    "select_labeled_indices",
    "ssvae_loss",
]
