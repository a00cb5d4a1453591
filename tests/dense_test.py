"""Tests for ssvae/models/dense.py."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ssvae import model_spec
from ssvae.models import common
from ssvae.models import dense
from validation_helpers import validate_model

INPUT_SHAPE = (4, 4, 1)
NUM_CLASSES = 3
X = jax.random.uniform(jax.random.key(42), (5,) + INPUT_SHAPE)


def _rngs(seed: int) -> dict:
  params, latent, dropout = jax.random.split(jax.random.key(seed), 3)
  return {"params": params, "latent": latent, "dropout": dropout}


def _model(variant=model_spec.SEMI_SUPERVISED, **kwargs) -> dense.DenseVAE:
  kwargs.setdefault("hidden_sizes", (8, 6))
  return dense.DenseVAE(INPUT_SHAPE, NUM_CLASSES, variant=variant, **kwargs)


def _init(model):
  return model.init(_rngs(0), X, train=False)


@pytest.mark.parametrize("variant", model_spec.ONE_MODEL_VARIANTS)
@pytest.mark.parametrize("likelihood", model_spec.LIKELIHOODS)
def test_output_shapes(variant, likelihood):
  model = _model(variant, likelihood=likelihood, latent_dim=2)
  out = model.apply(_init(model), X, train=False, rngs=_rngs(1))
  if model_spec.has_classifier(variant):
    assert out.class_logits.shape == (5, NUM_CLASSES)
  else:
    assert out.class_logits is None
  if model_spec.has_decoder(variant):
    assert out.z_mean.shape == out.z_logvar.shape == out.z.shape == (5, 2)
    assert out.recon_loc.shape == X.shape
    if likelihood == model_spec.GAUSSIAN:
      assert out.recon_var.shape == X.shape and float(out.recon_var.min()) > 0
    else:
      assert out.recon_var is None
  else:
    assert out.z is None and out.recon_loc is None and out.recon_var is None
  assert out.factor_logits == ()


@pytest.mark.parametrize("variant,expected", [
    (model_spec.SEMI_SUPERVISED,
     {"encoder_layers_0", "encoder_layers_1", "heads", "decoder_layers_0",
      "decoder_layers_1", "recon"}),
    (model_spec.SUPERVISED, {"encoder_layers_0", "encoder_layers_1", "heads"}),
    (model_spec.UNSUPERVISED,
     {"encoder_layers_0", "encoder_layers_1", "heads", "decoder_layers_0",
      "decoder_layers_1", "recon"}),
])
def test_absent_parts_have_no_params(variant, expected):
  params = _init(_model(variant))["params"]
  assert set(params) == expected
  has_class_head = "class_logits_0" in params["heads"]
  assert has_class_head == (variant != model_spec.UNSUPERVISED)
  assert ("z_mean" in params["heads"]) == (variant != model_spec.SUPERVISED)


def test_decoder_mirrors_encoder_and_takes_z_and_y():
  params = _init(_model(latent_dim=2))["params"]
  assert params["encoder_layers_0"]["kernel"].shape == (16, 8)
  assert params["encoder_layers_1"]["kernel"].shape == (8, 6)
  assert params["decoder_layers_0"]["kernel"].shape == (2 + NUM_CLASSES, 6)
  assert params["decoder_layers_1"]["kernel"].shape == (6, 8)
  assert params["recon"]["loc"]["kernel"].shape == (8, 16)
  unsupervised = _init(_model(model_spec.UNSUPERVISED, latent_dim=2))["params"]
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
  model = _model(model_spec.SUPERVISED)
  variables = _init(model)
  with pytest.raises(ValueError, match="has no decoder"):
    model.apply(variables, jnp.zeros((1, 2)), method=model.decode)


def test_bad_variant_names_field():
  with pytest.raises(ValueError, match=r"config\.model\.variant: 'vae'"):
    validate_model(family="dense", variant="vae")


# ------------------------------------------------------- model.decoder_y


def _decoder_y(mode):
  return common.DecoderY(mode=mode, gumbel_anneal_steps=10)


@pytest.mark.parametrize("mode,decoded", [
    (model_spec.STRAIGHT_THROUGH, common.one_hot_argmax),
    (model_spec.DETACHED, jax.nn.softmax),
])
def test_call_feeds_the_decoder_y_code_to_the_decoder(mode, decoded):
  model = _model(decoder_y=_decoder_y(mode))
  variables = _init(model)
  out = model.apply(variables, X, train=True, rngs=_rngs(1))
  loc, _ = model.apply(variables, out.z, decoded(out.class_logits),
                       method=model.decode)
  np.testing.assert_allclose(loc, out.recon_loc, rtol=1e-5, atol=1e-6)
  # Same parameters and z noise as the paper's softmax model: only y differs.
  paper = _model().apply(variables, X, train=True, rngs=_rngs(1))
  np.testing.assert_array_equal(out.z, paper.z)
  np.testing.assert_array_equal(out.class_logits, paper.class_logits)


def _decoder_path_gradient(mode, step=None):
  """Gradient of the reconstruction output w.r.t. the class head."""
  model = _model(decoder_y=_decoder_y(mode))
  variables = _init(model)
  def recon(params):
    out = model.apply({"params": params}, X, train=True, step=step,
                      rngs=_rngs(1))
    return jnp.sum(out.recon_loc)
  return jax.grad(recon)(variables["params"])["heads"]["class_logits_0"]


def test_detached_y_gives_the_class_head_no_decoder_path_gradient():
  detached = _decoder_path_gradient(model_spec.DETACHED)
  assert all(np.all(g == 0) for g in jax.tree.leaves(detached))
  for mode, step in ((model_spec.SOFTMAX, None), (model_spec.STRAIGHT_THROUGH, None),
                     (model_spec.GUMBEL_SOFTMAX, jnp.int32(3))):
    gradient = _decoder_path_gradient(mode, step)
    assert any(np.any(g != 0) for g in jax.tree.leaves(gradient)), mode


def test_gumbel_noise_comes_after_z_noise_and_depends_on_the_step():
  model = _model(decoder_y=_decoder_y(model_spec.GUMBEL_SOFTMAX))
  variables = _init(model)
  run = lambda step: model.apply(variables, X, train=True, step=step,
                                 rngs=_rngs(1))
  paper = _model().apply(variables, X, train=True, rngs=_rngs(1))
  np.testing.assert_array_equal(run(jnp.int32(0)).z, paper.z)
  assert not np.allclose(run(jnp.int32(0)).recon_loc,
                         run(jnp.int32(10)).recon_loc)  # temperature 1 vs 0.5
  evaluation = model.apply(variables, X, train=False, rngs=_rngs(1))
  loc, _ = model.apply(variables, evaluation.z,
                       common.one_hot_argmax(evaluation.class_logits),
                       method=model.decode)
  np.testing.assert_allclose(loc, evaluation.recon_loc, rtol=1e-5, atol=1e-6)


# -------------------------------------------------------------------- M2


@pytest.mark.parametrize("likelihood", model_spec.LIKELIHOODS)
def test_m2_enumerates_every_class(likelihood):
  model = _model(model_spec.M2, likelihood=likelihood, latent_dim=2)
  out = model.apply(_init(model), X, train=False, rngs=_rngs(1))
  assert out.class_logits.shape == (5, NUM_CLASSES)
  assert out.z_mean.shape == out.z_logvar.shape == out.z.shape == (
      5, NUM_CLASSES, 2)
  assert out.recon_loc.shape == (5, NUM_CLASSES) + INPUT_SHAPE
  if likelihood == model_spec.GAUSSIAN:
    assert out.recon_var.shape == out.recon_loc.shape


def test_m2_has_separate_classifier_and_z_encoder():
  params = _init(_model(model_spec.M2, latent_dim=2))["params"]
  assert set(params) == {
      "classifier_layers_0", "classifier_layers_1", "classifier_heads",
      "encoder_layers_0", "encoder_layers_1", "encoder_y", "heads",
      "decoder_layers_0", "decoder_layers_1", "recon"}
  assert set(params["classifier_heads"]) == {"class_logits_0"}
  assert set(params["heads"]) == {"z_mean", "z_logvar"}
  assert params["decoder_layers_0"]["kernel"].shape == (2 + NUM_CLASSES, 6)


def test_m2_z_encoder_is_a_dense_layer_on_concat_x_y():
  model = _model(model_spec.M2, latent_dim=2)
  variables = _init(model)
  params = variables["params"]
  y = jnp.eye(NUM_CLASSES)[jnp.array([0, 2, 1, 1, 0])]
  first = params["encoder_layers_0"]
  kernel = jnp.concatenate([first["kernel"], params["encoder_y"]["kernel"]])
  h = jax.nn.relu(jnp.concatenate([X.reshape(5, -1), y], -1) @ kernel
                  + first["bias"])
  second = params["encoder_layers_1"]
  h = jax.nn.relu(h @ second["kernel"] + second["bias"])
  head = params["heads"]["z_mean"]
  z_mean, _ = model.apply(variables, X, y, method=model.encode_z)
  np.testing.assert_allclose(z_mean, h @ head["kernel"] + head["bias"],
                             rtol=1e-5, atol=1e-6)


def test_m2_call_matches_encode_z_and_decode_per_class():
  model = _model(model_spec.M2, latent_dim=2)
  variables = _init(model)
  out = model.apply(variables, X, train=False, rngs=_rngs(1))
  for c in range(NUM_CLASSES):
    y = jnp.broadcast_to(jnp.eye(NUM_CLASSES)[c], (5, NUM_CLASSES))
    z_mean, _ = model.apply(variables, X, y, method=model.encode_z)
    np.testing.assert_allclose(z_mean, out.z_mean[:, c], rtol=1e-5, atol=1e-6)
    loc, _ = model.apply(variables, out.z[:, c], y, method=model.decode)
    np.testing.assert_allclose(loc, out.recon_loc[:, c], rtol=1e-5,
                               atol=1e-6)
  z_mean, _, logits = model.apply(variables, X, method=model.encode)
  np.testing.assert_allclose(logits, out.class_logits)
  best = jnp.argmax(logits, -1)
  np.testing.assert_allclose(z_mean, out.z_mean[jnp.arange(5), best],
                             rtol=1e-5, atol=1e-6)


def test_m2_labeled_first_evaluates_labeled_points_at_their_label_only():
  model = _model(model_spec.M2, latent_dim=2)
  variables = _init(model)
  labels = jnp.array([2, 0])
  full = model.apply(variables, X, train=False, rngs=_rngs(1))
  labeled, unlabeled = model.apply(variables, X, labels, train=False,
                                   rngs=_rngs(1), method="m2_labeled_first")
  assert labeled.z_mean.shape == labeled.z.shape == (2, 1, 2)
  assert labeled.recon_loc.shape == (2, 1) + INPUT_SHAPE
  assert unlabeled.z_mean.shape == (3, NUM_CLASSES, 2)
  np.testing.assert_allclose(labeled.z_mean[:, 0],
                             full.z_mean[jnp.arange(2), labels],
                             rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(unlabeled.z_mean, full.z_mean[2:], rtol=1e-5,
                             atol=1e-6)
  np.testing.assert_allclose(
      jnp.concatenate([labeled.class_logits, unlabeled.class_logits]),
      full.class_logits, rtol=1e-6)
  y = jnp.eye(NUM_CLASSES)[labels][:, None]
  loc, _ = model.apply(variables, labeled.z, y, method=model.decode)
  np.testing.assert_allclose(loc, labeled.recon_loc, rtol=1e-5, atol=1e-6)
  only_labeled, none = model.apply(variables, X, jnp.array([0, 1, 2, 0, 1]),
                                   train=False, rngs=_rngs(1),
                                   method="m2_labeled_first")
  assert none is None and only_labeled.z_mean.shape == (5, 1, 2)
