"""Tests for ssvae/diagnostics.py."""

import jax
import jax.numpy as jnp
import numpy as np

from ssvae import diagnostics
from ssvae import model_spec
from ssvae.models import dense

X = jax.random.bernoulli(jax.random.key(0), 0.5, (6, 4, 4, 1)).astype(
    jnp.float32)
MASK = jnp.array([1.0, 1.0, 0.0, 0.0, 0.0, 0.0])


def test_unlabeled_confidence_is_the_mean_max_probability_of_unlabeled():
  logits = jnp.log(jnp.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7]]))
  mask = jnp.array([1.0, 0.0, 0.0])
  np.testing.assert_allclose(
      diagnostics.unlabeled_confidence(logits, mask), (0.6 + 0.7) / 2,
      rtol=1e-6)


def _model_and_variables(variant=model_spec.SEMI_SUPERVISED):
  model = dense.DenseVAE((4, 4, 1), 3, variant=variant, hidden_sizes=(8,))
  variables = model.init(
      {"params": jax.random.key(1), "latent": jax.random.key(2)}, X,
      train=False)
  return model, variables


def test_a_decoder_that_ignores_y_gains_nothing_through_y():
  model, variables = _model_and_variables()
  params = variables["params"]
  kernel = params["decoder_layers_0"]["kernel"]
  params["decoder_layers_0"]["kernel"] = kernel.at[-3:].set(0.0)  # y rows
  split = diagnostics.reconstruction_split(model, variables, X, MASK,
                                           model_spec.BERNOULLI)
  assert split["y_reconstruction_gain"] == 0.0
  assert split["z_reconstruction_gain"] != 0.0


def test_a_decoder_that_ignores_z_gains_nothing_through_z():
  model, variables = _model_and_variables(model_spec.M2)
  params = variables["params"]
  kernel = params["decoder_layers_0"]["kernel"]
  params["decoder_layers_0"]["kernel"] = kernel.at[:2].set(0.0)  # z rows
  split = diagnostics.reconstruction_split(model, variables, X, MASK,
                                           model_spec.BERNOULLI)
  assert split["z_reconstruction_gain"] == 0.0
  base = split["unlabeled_reconstruction"]
  assert np.isfinite(base) and base > 0
