"""Tests for ssvae/models/multihead.py."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ssvae import model_spec
from ssvae.models import multihead
from validation_helpers import validate_model

INPUT_SHAPE = (16, 16, 2)
FACTOR_SIZES = (3, 4, 2)
X = jax.random.uniform(jax.random.key(42), (2,) + INPUT_SHAPE)


def _rngs(seed: int) -> dict:
  params, latent, dropout = jax.random.split(jax.random.key(seed), 3)
  return {"params": params, "latent": latent, "dropout": dropout}


def _model(variant=model_spec.SEMI_SUPERVISED, input_shape=INPUT_SHAPE,
           **kwargs) -> multihead.MultiHeadCnnVAE:
  kwargs.setdefault("hidden_sizes", (8,))
  kwargs.setdefault("conv_channels", (2, 2, 4, 4))
  kwargs.setdefault("decoder_channels", (4, 2, 2))
  kwargs.setdefault("latent_dim", 3)
  return multihead.MultiHeadCnnVAE(input_shape, FACTOR_SIZES, variant=variant,
                                   **kwargs)


@pytest.mark.parametrize("variant", model_spec.ONE_MODEL_VARIANTS)
def test_output_shapes(variant):
  model = _model(variant)
  out = model.apply(model.init(_rngs(0), X, train=False), X, train=False,
                    rngs=_rngs(1))
  if model_spec.has_classifier(variant):
    assert [l.shape for l in out.factor_logits] == [(2, 3), (2, 4), (2, 2)]
    np.testing.assert_array_equal(out.class_logits, out.factor_logits[0])
  else:
    assert out.factor_logits == () and out.class_logits is None
  if model_spec.has_decoder(variant):
    assert out.z.shape == (2, 3)
    assert out.recon_loc.shape == X.shape and out.recon_var is None
  else:
    assert out.z is None and out.recon_loc is None


@pytest.mark.parametrize("variant,heads", [
    (model_spec.SEMI_SUPERVISED, {"z_mean", "z_logvar", "class_logits_0",
                             "class_logits_1", "class_logits_2"}),
    (model_spec.SUPERVISED, {"class_logits_0", "class_logits_1", "class_logits_2"}),
    (model_spec.UNSUPERVISED, {"z_mean", "z_logvar"}),
])
def test_absent_parts_have_no_params(variant, heads):
  params = _model(variant).init(_rngs(0), X, train=False)["params"]
  assert set(params["heads"]) == heads
  has_decoder = any(name.startswith("decoder") for name in params)
  assert has_decoder == model_spec.has_decoder(variant)
  assert ("recon" in params) == model_spec.has_decoder(variant)


def test_decoder_takes_z_only():
  model = _model()
  variables = model.init(_rngs(0), X, train=False)
  assert variables["params"]["decoder_dense_0"]["kernel"].shape == (3, 8)
  loc, var = model.apply(variables, jnp.zeros((5, 3)), method=model.decode)
  assert loc.shape == (5,) + INPUT_SHAPE and var is None
  with pytest.raises(ValueError, match="decodes z only"):
    model.apply(variables, jnp.zeros((5, 3)), jnp.ones((5, 3)),
                method=model.decode)


def test_reconstruction_gradient_ignores_factor_heads():
  model = _model()
  variables = model.init(_rngs(0), X, train=False)

  def recon_sum(params):
    out = model.apply({"params": params}, X, train=False, rngs=_rngs(1))
    return jnp.sum(out.recon_loc)

  grads = jax.grad(recon_sum)(variables["params"])["heads"]
  for k in range(len(FACTOR_SIZES)):
    for leaf in jax.tree.leaves(grads[f"class_logits_{k}"]):
      np.testing.assert_array_equal(leaf, 0.0)
  assert np.abs(grads["z_mean"]["kernel"]).sum() > 0.0


def test_apply_is_deterministic_given_rngs():
  model = _model(dropout_rate=0.5)
  variables = model.init(_rngs(0), X, train=False)
  out_a = model.apply(variables, X, train=True, rngs=_rngs(4))
  out_b = model.apply(variables, X, train=True, rngs=_rngs(4))
  for a, b in zip(jax.tree.leaves(out_a), jax.tree.leaves(out_b)):
    np.testing.assert_array_equal(a, b)
  eval_a = model.apply(variables, X, train=False, rngs=_rngs(4))
  eval_b = model.apply(variables, X, train=False,
                       rngs={**_rngs(4), "dropout": jax.random.key(9)})
  np.testing.assert_array_equal(eval_a.factor_logits[1],
                                eval_b.factor_logits[1])


@pytest.mark.parametrize("input_shape", [(64, 64, 1), (96, 96, 2)])
def test_paper_sizes(input_shape):
  """Table 16 at dSprites / Small-NORB sizes (shapes only, nothing computed)."""
  model = multihead.MultiHeadCnnVAE(input_shape, (3, 6, 40, 32, 32),
                                    latent_dim=10)
  x = jnp.zeros((2,) + input_shape)
  variables = jax.eval_shape(lambda: model.init(_rngs(0), x, train=False))
  params = variables["params"]
  side = input_shape[0] // 16
  assert params["encoder_convs_0"]["kernel"].shape == (4, 4, input_shape[-1],
                                                       32)
  assert params["encoder_dense_0"]["kernel"].shape == (side * side * 64, 256)
  assert params["decoder_to_map"]["kernel"].shape == (256, side * side * 64)
  assert params["recon"]["loc"]["kernel"].shape == (4, 4, 32, input_shape[-1])
  out = jax.eval_shape(
      lambda v: model.apply(v, x, train=False, rngs=_rngs(1)), variables)
  assert out.recon_loc.shape == x.shape
  assert [l.shape[-1] for l in out.factor_logits] == [3, 6, 40, 32, 32]


def test_input_must_be_divisible_by_16():
  with pytest.raises(ValueError, match="divisible by 16"):
    _model(input_shape=(20, 20, 1))


def test_heads_need_factor_sizes():
  with pytest.raises(ValueError, match="factor_sizes"):
    multihead.MultiHeadCnnVAE(INPUT_SHAPE, ())
  multihead.MultiHeadCnnVAE(INPUT_SHAPE, (), variant=model_spec.UNSUPERVISED)


def test_decoder_channels_count():
  with pytest.raises(ValueError, match=r"model\.decoder_channels"):
    validate_model(family="multihead_cnn", conv_channels=(2, 2, 4, 4),
                   decoder_channels=(4, 2))
