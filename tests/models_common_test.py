"""Tests for ssvae/models/common.py and the factory in ssvae/models."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from ssvae import model_spec
from ssvae import models
from ssvae.models import common
from validation_helpers import validate_model


def _model_config(**overrides) -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict(dict(
      family="dense", variant=model_spec.SEMI_SUPERVISED, latent_dim=2,
      hidden_sizes=(8,), dropout_rate=0.0))
  config.update(overrides)
  return config


def test_reparameterize_matches_hand_formula():
  rng = jax.random.key(3)
  mean = jnp.array([[1.0, -2.0, 0.5]])
  logvar = jnp.array([[0.0, jnp.log(4.0), jnp.log(0.25)]])
  eps = jax.random.normal(rng, mean.shape)
  expected = mean + jnp.array([[1.0, 2.0, 0.5]]) * eps
  np.testing.assert_allclose(common.reparameterize(rng, mean, logvar),
                             expected, rtol=1e-6)


def test_reparameterize_sample_statistics():
  mean = jnp.full((20000, 1), 3.0)
  logvar = jnp.full((20000, 1), jnp.log(4.0))
  z = common.reparameterize(jax.random.key(0), mean, logvar)
  assert abs(float(z.mean()) - 3.0) < 0.05
  assert abs(float(z.std()) - 2.0) < 0.05


def test_gaussian_variance_is_softplus_plus_floor():
  raw = jnp.array([0.0, -100.0, 5.0])
  var = common.gaussian_variance(raw)
  np.testing.assert_allclose(
      var, [np.log(2.0) + common.VARIANCE_FLOOR, common.VARIANCE_FLOOR,
            np.log1p(np.exp(5.0)) + common.VARIANCE_FLOOR], rtol=1e-5)
  assert float(var.min()) > 0.0


@pytest.mark.parametrize("variant,expected", [
    (model_spec.SEMI_SUPERVISED, {"z_mean", "z_logvar", "class_logits_0",
                             "class_logits_1"}),
    (model_spec.SUPERVISED, {"class_logits_0", "class_logits_1"}),
    (model_spec.UNSUPERVISED, {"z_mean", "z_logvar"}),
])
def test_latent_heads_create_only_the_variants_heads(variant, expected):
  heads = common.LatentHeads(latent_dim=3, class_sizes=(4, 5), variant=variant)
  h = jnp.ones((2, 7))
  params = heads.init(jax.random.key(0), h)["params"]
  assert set(params) == expected
  z_mean, z_logvar, logits = heads.apply({"params": params}, h)
  assert (z_mean is None) == (variant == model_spec.SUPERVISED)
  assert (z_logvar is None) == (variant == model_spec.SUPERVISED)
  if variant == model_spec.UNSUPERVISED:
    assert logits == ()
  else:
    assert [l.shape for l in logits] == [(2, 4), (2, 5)]
  if z_mean is not None:
    assert z_mean.shape == z_logvar.shape == (2, 3)


def test_latent_heads_act_per_time_step():
  heads = common.LatentHeads(2, (3,), model_spec.SEMI_SUPERVISED)
  h = jnp.ones((4, 6, 5))
  z_mean, _, (logits,) = heads.apply(heads.init(jax.random.key(0), h), h)
  assert z_mean.shape == (4, 6, 2) and logits.shape == (4, 6, 3)


@pytest.mark.parametrize("likelihood", model_spec.LIKELIHOODS)
def test_likelihood_head(likelihood):
  head = common.LikelihoodHead(likelihood, functools.partial(nn.Dense, 6))
  h = jax.random.normal(jax.random.key(1), (3, 4))
  variables = head.init(jax.random.key(0), h)
  loc, var = head.apply(variables, h)
  assert loc.shape == (3, 6)
  if likelihood == model_spec.BERNOULLI:
    assert var is None and set(variables["params"]) == {"loc"}
  else:
    assert var.shape == (3, 6) and float(var.min()) > 0.0
    assert set(variables["params"]) == {"loc", "var"}


def test_decoder_input_concatenates_for_semi_supervised_only():
  z, y = jnp.zeros((2, 3)), jnp.ones((2, 4))
  out = common.decoder_input(z, y, model_spec.SEMI_SUPERVISED, 4, "M")
  np.testing.assert_array_equal(out, jnp.concatenate([z, y], -1))
  assert common.decoder_input(z, None, model_spec.UNSUPERVISED, 4, "M") is z
  with pytest.raises(ValueError, match="pass y"):
    common.decoder_input(z, None, model_spec.SEMI_SUPERVISED, 4, "M")
  with pytest.raises(ValueError, match="expected 4"):
    common.decoder_input(z, jnp.ones((2, 5)), model_spec.SEMI_SUPERVISED, 4, "M")
  with pytest.raises(ValueError, match="y must be None"):
    common.decoder_input(z, y, model_spec.UNSUPERVISED, 4, "M")


@pytest.mark.parametrize("family,model_class,input_shape", [
    ("dense", models.DenseVAE, (8, 8, 1)),
    ("cnn", models.CnnVAE, (8, 8, 1)),
    ("rnn", models.RnnVAE, (5, 3)),
    ("multihead_cnn", models.MultiHeadCnnVAE, (16, 16, 1)),
])
def test_build_model_picks_family(family, model_class, input_shape):
  config = _model_config(family=family,
                         hidden_sizes=(4, 4, 4) if family == "rnn" else (8,))
  model = models.build_model(config, input_shape=input_shape, num_classes=3,
                             likelihood=model_spec.BERNOULLI)
  assert isinstance(model, model_class)
  assert model.input_shape == input_shape
  assert model.variant == model_spec.SEMI_SUPERVISED
  assert set(models.FAMILIES) == {"dense", "cnn", "rnn", "multihead_cnn"}


def test_build_model_passes_family_fields_and_defaults():
  config = _model_config(family="cnn", conv_channels=[4, 8],
                         conv_strides=[2, 2], kernel_size=5)
  del config["hidden_sizes"]
  model = models.build_model(config, input_shape=(8, 8, 1), num_classes=3,
                             likelihood=model_spec.GAUSSIAN)
  assert model.conv_channels == (4, 8) and model.conv_strides == (2, 2)
  assert model.kernel_size == 5 and model.likelihood == model_spec.GAUSSIAN
  assert model.hidden_sizes == (512,)  # Table 14 default


# The model fields are checked once, by config_validation (build_model and
# the modules trust a validated config): these go through it.


def test_unknown_family_is_refused_naming_the_registry():
  with pytest.raises(ValueError, match=r"config\.model\.family: 'mlp' is not "
                     r"one of \('dense', 'cnn', 'rnn', 'multihead_cnn', 'auto'\)"):
    validate_model(family="mlp")


def test_unknown_variant_is_refused():
  with pytest.raises(ValueError,
                     match=r"config\.model\.variant: 'semi' is not one of "
                     r"\('semi_supervised', 'supervised', 'unsupervised'"):
    validate_model(variant="semi")


@pytest.mark.parametrize("overrides,message", [
    (dict(latent_dim=0), r"model\.latent_dim"),
    (dict(hidden_sizes=(8, -1)), r"model\.hidden_sizes"),
    (dict(hidden_sizes=()), r"model\.hidden_sizes=\(\) must be a non-empty"),
    (dict(dropout_rate=1.0), r"model\.dropout_rate"),
    (dict(family="rnn", hidden_sizes=(8, 8)), r"model\.hidden_sizes.*3"),
    (dict(family="cnn", conv_strides=(1, 2)), r"model\.conv_strides"),
    (dict(family="cnn", kernel_size=0), r"model\.kernel_size"),
    (dict(family="multihead_cnn", conv_channels=(4, 0)),
     r"model\.conv_channels"),
])
def test_bad_model_fields_name_the_field(overrides, message):
  with pytest.raises(ValueError, match=message):
    validate_model(**overrides)


def test_the_family_defaults_are_valid():
  for family in ("dense", "cnn", "multihead_cnn"):
    validate_model(family=family)
  validate_model(family="rnn", hidden_sizes=(8, 8, 8))


def test_multihead_factor_sizes_must_start_with_num_classes():
  config = _model_config(family="multihead_cnn")
  with pytest.raises(ValueError, match=r"factor_sizes\[0\]=5.*num_classes=3"):
    models.build_model(config, input_shape=(16, 16, 1), num_classes=3,
                       likelihood=model_spec.BERNOULLI, factor_sizes=(5, 3))
  model = models.build_model(config, input_shape=(16, 16, 1), num_classes=3,
                             likelihood=model_spec.BERNOULLI)
  assert model.factor_sizes == (3,)


def test_missing_latent_rng_is_a_clear_error():
  model = models.build_model(_model_config(), input_shape=(4,), num_classes=2,
                             likelihood=model_spec.BERNOULLI)
  with pytest.raises(ValueError, match="rng stream 'latent'"):
    model.init(jax.random.key(0), jnp.zeros((1, 4)), train=False)


def test_wrong_input_shape_is_a_clear_error():
  model = models.build_model(_model_config(), input_shape=(4,), num_classes=2,
                             likelihood=model_spec.BERNOULLI)
  variables = models.init_variables(model, jax.random.key(0))
  with pytest.raises(ValueError, match=r"built for inputs of shape \[B, 4\]"):
    model.apply(variables, jnp.zeros((1, 5)), train=False,
                rngs={"latent": jax.random.key(1)})


# ------------------------------------------------- what the decoder sees


def test_straight_through_is_one_hot_forward_and_softmax_gradient():
  logits = jnp.array([[0.3, 1.2, -0.5], [2.0, 2.1, -1.0]])
  weights = jnp.array([[0.7, -1.3, 2.0], [0.1, 0.5, -0.4]])
  hard = common.straight_through(jax.nn.softmax(logits))
  np.testing.assert_array_equal(hard, [[0, 1, 0], [0, 1, 0]])  # exactly
  through = jax.grad(lambda l: jnp.sum(
      weights * common.straight_through(jax.nn.softmax(l))))(logits)
  soft = jax.grad(lambda l: jnp.sum(weights * jax.nn.softmax(l)))(logits)
  np.testing.assert_array_equal(through, soft)


def test_gumbel_temperature_anneals_exponentially_to_its_floor():
  tau = lambda step: float(common.gumbel_temperature(step, 2.0, 0.5, 100))
  assert tau(0) == 2.0
  np.testing.assert_allclose(tau(50), 1.0, rtol=1e-6)  # sqrt(2.0 * 0.5)
  np.testing.assert_allclose(tau(100), 0.5, rtol=1e-6)
  assert tau(10**6) == tau(100)
  assert tau(30) > tau(31)
  assert float(common.gumbel_temperature(500, 2.0, 0.5, 0)) == 2.0


def test_decoder_y_modes():
  logits = jnp.array([[0.3, 1.2, -0.5], [2.0, 0.1, -1.0]])
  probs = jax.nn.softmax(logits)
  code = lambda mode, **kw: common.DecoderY(mode=mode)(logits, **kw)
  for mode in (model_spec.SOFTMAX, model_spec.DETACHED):
    np.testing.assert_array_equal(code(mode, train=True), probs)
  one_hot = [[0, 1, 0], [1, 0, 0]]
  for mode in (model_spec.STRAIGHT_THROUGH, model_spec.GUMBEL_SOFTMAX):
    np.testing.assert_array_equal(code(mode, train=False), one_hot)
  with pytest.raises(ValueError, match="needs the training step"):
    code(model_spec.GUMBEL_SOFTMAX, train=True)
  keys = iter(jax.random.split(jax.random.key(0), 2))
  gumbel = lambda step: common.DecoderY(
      mode=model_spec.GUMBEL_SOFTMAX, gumbel_temperature=1.0,
      gumbel_temperature_min=0.1, gumbel_anneal_steps=10)(
          logits, train=True, step=step, make_rng=lambda: next(keys))
  warm, cold = gumbel(0), gumbel(10)
  np.testing.assert_allclose(warm.sum(-1), 1.0, rtol=1e-6)
  assert not np.allclose(warm, probs)  # noisy
  assert float(cold.max(-1).min()) > float(warm.max(-1).min())  # sharper


def test_decoder_y_is_checked_against_the_variant():
  validate_model(variant=model_spec.UNSUPERVISED)
  with pytest.raises(ValueError,
                     match=r"model\.decoder_y: 'straight.*semi_supervised"):
    validate_model(variant=model_spec.M2,
                   decoder_y=model_spec.STRAIGHT_THROUGH)
  with pytest.raises(ValueError, match=r"model\.decoder_y: 'argmax'"):
    validate_model(decoder_y="argmax")
  with pytest.raises(ValueError, match=r"model\.gumbel_temperature_min"):
    validate_model(gumbel_temperature=0.5, gumbel_temperature_min=1.0)


def test_build_model_passes_decoder_y_to_families_whose_decoder_sees_y():
  model = models.build_model(
      _model_config(family="rnn", hidden_sizes=(4, 4, 4),
                    decoder_y=model_spec.GUMBEL_SOFTMAX, gumbel_anneal_steps=7),
      input_shape=(5, 3), num_classes=3, likelihood=model_spec.GAUSSIAN)
  assert model.decoder_y == common.DecoderY(
      mode=model_spec.GUMBEL_SOFTMAX, gumbel_anneal_steps=7)
  assert models.build_model(
      _model_config(), input_shape=(4,), num_classes=2,
      likelihood=model_spec.BERNOULLI).decoder_y == common.DecoderY()
  with pytest.raises(ValueError, match=r"decoder_y.*multihead_cnn"):
    validate_model(family="multihead_cnn", decoder_y=model_spec.DETACHED)


@pytest.mark.parametrize("family", ["cnn", "rnn", "multihead_cnn"])
def test_m2_is_a_clear_error_outside_the_dense_family(family):
  with pytest.raises(ValueError, match=r"'m2' is implemented for "
                     r"model\.family in \('dense',\)"):
    validate_model(family=family, variant=model_spec.M2,
                   hidden_sizes=(8, 8, 8) if family == "rnn" else (8,))


@pytest.mark.parametrize("family, input_shape, decoder_y", [
    ("dense", (4, 4, 1), "softmax"),
    ("dense", (4, 4, 1), "straight_through"),
    ("cnn", (8, 8, 1), "softmax"),
    ("rnn", (6, 2), "softmax"),
    ("multihead_cnn", (64, 64, 1), "softmax"),
])
def test_decoder_inputs_are_what_evaluation_decodes(family, input_shape,
                                                     decoder_y):
  """decode(z, decoder_inputs(x)'s y) is the forward pass's reconstruction:
  what an anomaly score decodes is what the model trained to reconstruct
  (the recurrent family's decoder sees y per time step, not the window's)."""
  fields = dict(family=family, decoder_y=decoder_y,
                hidden_sizes=(8, 8, 8) if family == "rnn" else (8,))
  if family == "cnn":
    fields.update(conv_channels=(4,), conv_strides=(2,))
  model = models.build_model(
      _model_config(**fields), input_shape=input_shape, num_classes=3,
      likelihood=model_spec.GAUSSIAN, factor_sizes=(3, 2))
  x = jax.random.uniform(jax.random.key(0), (2,) + input_shape)
  variables = models.init_variables(model, jax.random.key(1))
  out = model.apply(variables, x, train=False,
                    rngs={"latent": jax.random.key(2)})
  z_mean, _, y = model.apply(variables, x, method="decoder_inputs")
  np.testing.assert_allclose(z_mean, out.z_mean, rtol=1e-6)
  recon_loc, _ = model.apply(variables, out.z, y, method="decode")
  np.testing.assert_allclose(recon_loc, out.recon_loc, rtol=1e-5, atol=1e-6)
