"""Tests for ssvae/models/cnn.py."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ssvae import model_spec
from ssvae.models import cnn
from validation_helpers import validate_model

NUM_CLASSES = 3


def _rngs(seed: int) -> dict:
  params, latent, dropout = jax.random.split(jax.random.key(seed), 3)
  return {"params": params, "latent": latent, "dropout": dropout}


def _model(variant=model_spec.SEMI_SUPERVISED, input_shape=(8, 8, 1),
           **kwargs) -> cnn.CnnVAE:
  kwargs.setdefault("hidden_sizes", (8,))
  kwargs.setdefault("conv_channels", (4, 4, 4))
  return cnn.CnnVAE(input_shape, NUM_CLASSES, variant=variant, **kwargs)


def _x(input_shape=(8, 8, 1), batch=4):
  return jax.random.uniform(jax.random.key(42), (batch,) + input_shape)


def test_conv_output_sizes_by_hand():
  assert cnn.conv_output_sizes((28, 28), (1, 1, 2)) == (14, 14)
  assert cnn.conv_output_sizes((7, 9), (1, 1, 2)) == (4, 5)
  assert cnn.conv_output_sizes((64, 64), (2, 2)) == (16, 16)


@pytest.mark.parametrize("variant", model_spec.ONE_MODEL_VARIANTS)
@pytest.mark.parametrize("input_shape", [(8, 8, 1), (7, 9, 2)])
def test_output_shapes(variant, input_shape):
  model = _model(variant, input_shape, likelihood=model_spec.GAUSSIAN)
  x = _x(input_shape)
  variables = model.init(_rngs(0), x, train=False)
  out, _ = model.apply(variables, x, train=True, rngs=_rngs(1),
                       mutable=["batch_stats"])
  if model_spec.has_classifier(variant):
    assert out.class_logits.shape == (4, NUM_CLASSES)
  else:
    assert out.class_logits is None
  if model_spec.has_decoder(variant):
    assert out.z.shape == (4, 2)
    assert out.recon_loc.shape == out.recon_var.shape == x.shape
  else:
    assert out.recon_loc is None and out.z is None


def test_paper_sizes_table_14():
  """28x28x1: flatten 14*14*64 = 12544 -> 512; decoder (z, y) -> 12544."""
  model = cnn.CnnVAE((28, 28, 1), 10, latent_dim=2)
  shapes = jax.eval_shape(lambda: model.init(
      _rngs(0), jnp.zeros((2, 28, 28, 1)), train=False))
  params = shapes["params"]
  assert params["encoder_convs_0"]["kernel"].shape == (3, 3, 1, 64)
  assert params["encoder_dense_0"]["kernel"].shape == (12544, 512)
  assert params["decoder_dense"]["kernel"].shape == (12, 12544)
  assert params["decoder_convs_2"]["kernel"].shape == (3, 3, 64, 64)
  assert params["recon"]["loc"]["kernel"].shape == (3, 3, 64, 1)
  out = jax.eval_shape(lambda: model.apply(
      model.init(_rngs(0), jnp.zeros((2, 28, 28, 1)), train=False),
      jnp.zeros((2, 28, 28, 1)), train=False, rngs=_rngs(1)))
  assert out.recon_loc.shape == (2, 28, 28, 1)


def test_supervised_has_no_decoder_params_or_stats():
  variables = _model(model_spec.SUPERVISED).init(_rngs(0), _x(), train=False)
  for collection in ("params", "batch_stats"):
    assert not any(name.startswith("decoder") or name == "recon"
                   for name in variables[collection])
  assert set(variables["params"]["heads"]) == {"class_logits_0"}


def test_unsupervised_has_no_class_head():
  variables = _model(model_spec.UNSUPERVISED).init(_rngs(0), _x(), train=False)
  assert set(variables["params"]["heads"]) == {"z_mean", "z_logvar"}


def test_eval_is_deterministic_and_keeps_batch_stats():
  model = _model(dropout_rate=0.5)
  x = _x()
  variables = model.init(_rngs(0), x, train=False)
  latent = jax.random.key(5)
  outs = []
  for seed in (1, 2):
    out, updated = model.apply(
        variables, x, train=False, mutable=["batch_stats"],
        rngs={"latent": latent, "dropout": jax.random.key(seed)})
    outs.append(out)
    for a, b in zip(jax.tree.leaves(updated["batch_stats"]),
                    jax.tree.leaves(variables["batch_stats"])):
      np.testing.assert_array_equal(a, b)
  np.testing.assert_array_equal(outs[0].recon_loc, outs[1].recon_loc)
  np.testing.assert_array_equal(outs[0].class_logits, outs[1].class_logits)


def test_train_mode_updates_batch_stats_and_uses_dropout():
  model = _model(dropout_rate=0.5)
  x = _x()
  variables = model.init(_rngs(0), x, train=False)
  out_a, updated = model.apply(variables, x, train=True, rngs=_rngs(1),
                               mutable=["batch_stats"])
  stats_before = variables["batch_stats"]["encoder_conv_norms_0"]["mean"]
  stats_after = updated["batch_stats"]["encoder_conv_norms_0"]["mean"]
  assert not np.allclose(stats_before, stats_after)
  out_b, _ = model.apply(
      variables, x, train=True, mutable=["batch_stats"],
      rngs={"latent": _rngs(1)["latent"], "dropout": jax.random.key(99)})
  assert not np.allclose(out_a.class_logits, out_b.class_logits)


def test_apply_is_deterministic_given_rngs():
  model = _model(dropout_rate=0.5)
  x = _x()
  variables = model.init(_rngs(0), x, train=False)
  run = lambda: model.apply(variables, x, train=True, rngs=_rngs(3),
                            mutable=["batch_stats"])
  (out_a, stats_a), (out_b, stats_b) = run(), run()
  for a, b in zip(jax.tree.leaves((out_a, stats_a)),
                  jax.tree.leaves((out_b, stats_b))):
    np.testing.assert_array_equal(a, b)


def test_semi_supervised_decoder_depends_on_y():
  model = _model()
  variables = model.init(_rngs(0), _x(), train=False)
  z = jnp.ones((2, 2))
  eye = jnp.eye(NUM_CLASSES)
  loc_0, var = model.apply(variables, z, eye[jnp.array([0, 0])],
                           method=model.decode)
  loc_2, _ = model.apply(variables, z, eye[jnp.array([2, 2])],
                         method=model.decode)
  assert var is None and loc_0.shape == (2, 8, 8, 1)
  assert not np.allclose(loc_0, loc_2)


def test_bad_input_shape_rank():
  with pytest.raises(ValueError, match=r"family cnn needs images"):
    _model(input_shape=(64,))


def test_strides_must_match_channels():
  with pytest.raises(ValueError, match=r"model\.conv_strides"):
    validate_model(family="cnn", conv_channels=(4, 4, 4), conv_strides=(1, 2))
