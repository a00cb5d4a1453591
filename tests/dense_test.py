"""Tests for ssvae/models/dense.py."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ssvae import types
from ssvae.models import dense

INPUT_SHAPE = (4, 4, 1)
NUM_CLASSES = 3
X = jax.random.uniform(jax.random.key(42), (5,) + INPUT_SHAPE)


def _rngs(seed: int) -> dict:
  params, latent, dropout = jax.random.split(jax.random.key(seed), 3)
  return {"params": params, "latent": latent, "dropout": dropout}


def _model(variant=types.SEMI_SUPERVISED, **kwargs) -> dense.DenseVAE:
  kwargs.setdefault("hidden_sizes", (8, 6))
  return dense.DenseVAE(INPUT_SHAPE, NUM_CLASSES, variant=variant, **kwargs)


def _init(model):
  return model.init(_rngs(0), X, train=False)


@pytest.mark.parametrize("variant", types.VARIANTS)
@pytest.mark.parametrize("likelihood", types.LIKELIHOODS)
def test_output_shapes(variant, likelihood):
  model = _model(variant, likelihood=likelihood, latent_dim=2)
  out = model.apply(_init(model), X, train=False, rngs=_rngs(1))
  if types.has_classifier(variant):
    assert out.class_logits.shape == (5, NUM_CLASSES)
  else:
    assert out.class_logits is None
  if types.has_decoder(variant):
    assert out.z_mean.shape == out.z_logvar.shape == out.z.shape == (5, 2)
    assert out.recon_loc.shape == X.shape
    if likelihood == types.GAUSSIAN:
      assert out.recon_var.shape == X.shape and float(out.recon_var.min()) > 0
    else:
      assert out.recon_var is None
  else:
    assert out.z is None and out.recon_loc is None and out.recon_var is None
  assert out.factor_logits == ()


@pytest.mark.parametrize("variant,expected", [
    (types.SEMI_SUPERVISED,
     {"encoder_layers_0", "encoder_layers_1", "heads", "decoder_layers_0",
      "decoder_layers_1", "recon"}),
    (types.SUPERVISED, {"encoder_layers_0", "encoder_layers_1", "heads"}),
    (types.UNSUPERVISED,
     {"encoder_layers_0", "encoder_layers_1", "heads", "decoder_layers_0",
      "decoder_layers_1", "recon"}),
])
def test_absent_parts_have_no_params(variant, expected):
  params = _init(_model(variant))["params"]
  assert set(params) == expected
  has_class_head = "class_logits_0" in params["heads"]
  assert has_class_head == (variant != types.UNSUPERVISED)
  assert ("z_mean" in params["heads"]) == (variant != types.SUPERVISED)


def test_decoder_mirrors_encoder_and_takes_z_and_y():
  params = _init(_model(latent_dim=2))["params"]
  assert params["encoder_layers_0"]["kernel"].shape == (16, 8)
  assert params["encoder_layers_1"]["kernel"].shape == (8, 6)
  assert params["decoder_layers_0"]["kernel"].shape == (2 + NUM_CLASSES, 6)
  assert params["decoder_layers_1"]["kernel"].shape == (6, 8)
  assert params["recon"]["loc"]["kernel"].shape == (8, 16)
  unsupervised = _init(_model(types.UNSUPERVISED, latent_dim=2))["params"]
  assert unsupervised["decoder_layers_0"]["kernel"].shape == (2, 6)


def test_paper_sizes_parameter_count():
  """Table 13: 784-1024-1024-{2, 2, 10}; decoder (2+10)-1024-1024-784."""
  model = dense.DenseVAE((28, 28, 1), 10, latent_dim=2,
                         hidden_sizes=(1024, 1024))
  shapes = jax.eval_shape(
      lambda: model.init(_rngs(0), jnp.zeros((1, 28, 28, 1)), train=False))
  count = sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(shapes))
  encoder = (784 * 1024 + 1024) + (1024 * 1024 + 1024)
  heads = 2 * (1024 * 2 + 2) + (1024 * 10 + 10)
  decoder = (12 * 1024 + 1024) + (1024 * 1024 + 1024) + (1024 * 784 + 784)
  assert count == encoder + heads + decoder == 3_734_302


def test_apply_is_deterministic_given_rngs():
  model = _model(dropout_rate=0.5)
  variables = _init(model)
  out_a = model.apply(variables, X, train=True, rngs=_rngs(7))
  out_b = model.apply(variables, X, train=True, rngs=_rngs(7))
  for a, b in zip(jax.tree.leaves(out_a), jax.tree.leaves(out_b)):
    np.testing.assert_array_equal(a, b)
  out_c = model.apply(variables, X, train=True, rngs=_rngs(8))
  assert not np.allclose(out_a.z, out_c.z)


def test_dropout_only_in_train_mode():
  model = _model(dropout_rate=0.5)
  variables = _init(model)
  latent = jax.random.key(3)
  run = lambda train, seed: model.apply(
      variables, X, train=train,
      rngs={"latent": latent, "dropout": jax.random.key(seed)})
  np.testing.assert_array_equal(run(False, 1).recon_loc,
                                run(False, 2).recon_loc)
  assert not np.allclose(run(True, 1).class_logits, run(True, 2).class_logits)


def test_encode_matches_call():
  model = _model()
  variables = _init(model)
  out = model.apply(variables, X, train=False, rngs=_rngs(1))
  z_mean, z_logvar, logits = model.apply(variables, X, method=model.encode)
  np.testing.assert_allclose(z_mean, out.z_mean)
  np.testing.assert_allclose(z_logvar, out.z_logvar)
  np.testing.assert_allclose(logits, out.class_logits)


def test_semi_supervised_decoder_depends_on_y():
  model = _model()
  variables = _init(model)
  z = jnp.zeros((2, 2))
  eye = jnp.eye(NUM_CLASSES)
  loc_0, _ = model.apply(variables, z, eye[jnp.array([0, 0])],
                         method=model.decode)
  loc_1, _ = model.apply(variables, z, eye[jnp.array([1, 1])],
                         method=model.decode)
  assert loc_0.shape == (2,) + INPUT_SHAPE
  assert not np.allclose(loc_0, loc_1)


def test_call_feeds_softmax_of_class_logits_to_decoder():
  model = _model()
  variables = _init(model)
  out = model.apply(variables, X, train=False, rngs=_rngs(1))
  loc, _ = model.apply(variables, out.z, jax.nn.softmax(out.class_logits),
                       method=model.decode)
  np.testing.assert_allclose(loc, out.recon_loc, rtol=1e-5, atol=1e-6)


def test_supervised_has_no_decoder():
  model = _model(types.SUPERVISED)
  variables = _init(model)
  with pytest.raises(ValueError, match="has no decoder"):
    model.apply(variables, jnp.zeros((1, 2)), method=model.decode)


def test_bad_variant_names_field():
  with pytest.raises(ValueError, match=r"model\.variant='vae'"):
    _model("vae")
