"""Tests for ssvae/models/rnn.py."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ssvae import model_spec
from ssvae.models import rnn
from validation_helpers import validate_model

T, F, NUM_CLASSES = 6, 3, 4
X = jax.random.normal(jax.random.key(42), (2, T, F))


def _rngs(seed: int) -> dict:
  params, latent, dropout = jax.random.split(jax.random.key(seed), 3)
  return {"params": params, "latent": latent, "dropout": dropout}


def _model(variant=model_spec.SEMI_SUPERVISED, **kwargs) -> rnn.RnnVAE:
  kwargs.setdefault("hidden_sizes", (5, 7, 4))
  return rnn.RnnVAE((T, F), NUM_CLASSES, variant=variant, **kwargs)


def test_window_logits_is_mean_log_softmax():
  step_logits = jnp.array([[[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]]])
  log_p = step_logits - jax.scipy.special.logsumexp(
      step_logits, axis=-1, keepdims=True)
  expected = log_p.mean(axis=1)
  np.testing.assert_allclose(rnn.window_logits(step_logits), expected,
                             rtol=1e-6)
  # Its softmax is the normalized geometric mean of the step distributions.
  p = jax.nn.softmax(step_logits, axis=-1)
  geometric = jnp.prod(p, axis=1) ** (1 / 3)
  np.testing.assert_allclose(jax.nn.softmax(rnn.window_logits(step_logits)),
                             geometric / geometric.sum(-1, keepdims=True),
                             rtol=1e-5)


@pytest.mark.parametrize("variant", model_spec.ONE_MODEL_VARIANTS)
def test_output_shapes(variant):
  model = _model(variant, latent_dim=2)
  variables = model.init(_rngs(0), X, train=False)
  out = model.apply(variables, X, train=False, rngs=_rngs(1))
  if model_spec.has_classifier(variant):
    assert out.class_logits.shape == (2, NUM_CLASSES)
  else:
    assert out.class_logits is None
  if model_spec.has_decoder(variant):
    assert out.z_mean.shape == out.z_logvar.shape == out.z.shape == (2, T, 2)
    assert out.recon_loc.shape == out.recon_var.shape == X.shape
    assert float(out.recon_var.min()) > 0.0
  else:
    assert out.z is None and out.recon_loc is None


@pytest.mark.parametrize("variant,expected", [
    (model_spec.SEMI_SUPERVISED, {"encoder_in", "encoder_lstm", "encoder_out",
                             "heads", "decoder_in", "decoder_lstm",
                             "decoder_out", "recon"}),
    (model_spec.SUPERVISED, {"encoder_in", "encoder_lstm", "encoder_out", "heads"}),
])
def test_absent_parts_have_no_params(variant, expected):
  params = _model(variant).init(_rngs(0), X, train=False)["params"]
  assert set(params) == expected


def test_decoder_mirrors_encoder_sizes():
  params = _model(latent_dim=2).init(_rngs(0), X, train=False)["params"]
  assert params["encoder_in"]["kernel"].shape == (F, 5)
  assert params["encoder_out"]["kernel"].shape == (7, 4)
  assert params["decoder_in"]["kernel"].shape == (2 + NUM_CLASSES, 4)
  assert params["decoder_out"]["kernel"].shape == (7, 5)
  assert params["recon"]["var"]["kernel"].shape == (5, F)


def test_encode_gives_window_logits():
  model = _model()
  variables = model.init(_rngs(0), X, train=False)
  z_mean, _, logits = model.apply(variables, X, method=model.encode)
  out = model.apply(variables, X, train=False, rngs=_rngs(1))
  assert logits.shape == (2, NUM_CLASSES)
  np.testing.assert_allclose(logits, out.class_logits, rtol=1e-6)
  np.testing.assert_allclose(z_mean, out.z_mean, rtol=1e-6)


def test_encoder_is_causal():
  """A unidirectional LSTM: changing the last step leaves earlier steps."""
  model = _model()
  variables = model.init(_rngs(0), X, train=False)
  x_changed = X.at[:, -1].add(5.0)
  z_a, _, _ = model.apply(variables, X, method=model.encode)
  z_b, _, _ = model.apply(variables, x_changed, method=model.encode)
  np.testing.assert_allclose(z_a[:, :-1], z_b[:, :-1], rtol=1e-6)
  assert not np.allclose(z_a[:, -1], z_b[:, -1])


def test_decode_broadcasts_window_label_over_time():
  model = _model()
  variables = model.init(_rngs(0), X, train=False)
  z = jax.random.normal(jax.random.key(1), (2, T, 2))
  y = jnp.eye(NUM_CLASSES)[jnp.array([0, 3])]
  per_window = model.apply(variables, z, y, method=model.decode)
  per_step = model.apply(variables, z, jnp.repeat(y[:, None], T, axis=1),
                         method=model.decode)
  for a, b in zip(per_window, per_step):
    np.testing.assert_allclose(a, b, rtol=1e-6)
  other = model.apply(variables, z, jnp.eye(NUM_CLASSES)[jnp.array([1, 1])],
                      method=model.decode)
  assert not np.allclose(per_window[0], other[0])


def test_decode_rejects_bad_shapes():
  model = _model()
  variables = model.init(_rngs(0), X, train=False)
  with pytest.raises(ValueError, match=r"y of shape \[B, C\]"):
    model.apply(variables, jnp.zeros((2, T, 2)), jnp.zeros((2, T + 1, 4)),
                method=model.decode)
  with pytest.raises(ValueError, match="needs z of shape"):
    model.apply(variables, jnp.zeros((2, 2)), jnp.zeros((2, 4)),
                method=model.decode)


def test_dropout_only_in_train_mode_and_deterministic():
  model = _model(dropout_rate=0.5)
  variables = model.init(_rngs(0), X, train=False)
  apply = jax.jit(
      lambda rngs, train: model.apply(variables, X, train=train, rngs=rngs),
      static_argnums=1)
  run = lambda train, seed: apply(
      {"latent": jax.random.key(0), "dropout": jax.random.key(seed)}, train)
  np.testing.assert_array_equal(run(False, 1).recon_loc,
                                run(False, 2).recon_loc)
  np.testing.assert_array_equal(run(True, 1).recon_loc, run(True, 1).recon_loc)
  assert not np.allclose(run(True, 1).recon_loc, run(True, 2).recon_loc)


def test_hidden_sizes_need_three_entries():
  with pytest.raises(ValueError, match=r"model\.hidden_sizes.*exactly 3"):
    validate_model(family="rnn", hidden_sizes=(40, 30))


def test_input_shape_must_be_time_by_channels():
  with pytest.raises(ValueError, match=r"family rnn needs windows"):
    rnn.RnnVAE((8, 8, 1), NUM_CLASSES)
