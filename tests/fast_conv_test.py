"""Tests for ssvae/models/fast_conv.py: every form is flax's layer."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ssvae import model_spec
from ssvae.models import cnn
from ssvae.models import fast_conv
from ssvae.models import multihead
from validation_helpers import validate_model

# (kernel, stride, height, width): the models' layers (3/2 CNN, 4/2
# multi-head), stride 1, odd sizes, kernels smaller/larger than the stride.
CASES = [(3, 2, 7, 8), (4, 2, 4, 4), (3, 1, 5, 6), (5, 2, 3, 4),
         (1, 2, 3, 4), (4, 3, 3, 5)]


def _x(height, width, channels=3, batch=2, seed=0):
  return jax.random.normal(jax.random.key(seed),
                           (batch, height, width, channels))


def _perturbed(variables):
  """Initial variables plus noise, so the bias is not zero."""
  leaves, tree = jax.tree.flatten(variables)
  keys = jax.random.split(jax.random.key(7), len(leaves))
  return jax.tree.unflatten(tree, [
      a + 0.5 * jax.random.normal(k, a.shape) for a, k in zip(leaves, keys)])


def _value_and_grads(layer, variables, x):
  def f(v, x):
    return jnp.sum(jnp.sin(layer.apply(v, x)))
  return layer.apply(variables, x), jax.grad(f, argnums=(0, 1))(variables, x)


def _assert_same(flax_layer, layers, x):
  key = jax.random.key(1)
  reference_init = flax_layer.init(key, x)
  variables = _perturbed(reference_init)
  want, want_grads = _value_and_grads(flax_layer, variables, x)
  for layer in layers:
    # Same names, shapes and initial values: checkpoints are interchangeable.
    jax.tree.map(np.testing.assert_array_equal, reference_init,
                 layer.init(key, x))
    got, got_grads = _value_and_grads(layer, variables, x)
    assert got.shape == want.shape
    close = functools.partial(np.testing.assert_allclose, rtol=1e-5,
                              atol=1e-5, err_msg=layer.impl)
    close(got, want)
    jax.tree.map(close, got_grads, want_grads)


@pytest.mark.parametrize("kernel,stride,height,width", CASES)
def test_conv_transpose_is_flax_conv_transpose(kernel, stride, height, width):
  """Outputs and gradients (input, kernel, bias) of every impl."""
  reference = nn.ConvTranspose(5, (kernel, kernel), strides=(stride, stride),
                               padding="SAME")
  _assert_same(reference, [
      fast_conv.ConvTranspose(5, (kernel, kernel), (stride, stride),
                              impl=impl)
      for impl in fast_conv.TRANSPOSE_IMPLS], _x(height, width))


@pytest.mark.parametrize("kernel,stride,height,width", CASES)
def test_conv_is_flax_conv(kernel, stride, height, width):
  reference = nn.Conv(5, (kernel, kernel), strides=(stride, stride),
                      padding="SAME")
  _assert_same(reference, [
      fast_conv.Conv(5, (kernel, kernel), (stride, stride), impl=impl)
      for impl in fast_conv.CONV_IMPLS], _x(height, width))


def test_xla_impls_compute_exactly_what_flax_does():
  x = _x(7, 8)
  for reference, layer in [
      (nn.ConvTranspose(4, (3, 3), strides=(2, 2), padding="SAME"),
       fast_conv.ConvTranspose(4, (3, 3), (2, 2), impl=model_spec.XLA)),
      (nn.Conv(4, (3, 3), strides=(2, 2), padding="SAME"),
       fast_conv.Conv(4, (3, 3), (2, 2), impl=model_spec.XLA))]:
    variables = _perturbed(reference.init(jax.random.key(0), x))
    np.testing.assert_array_equal(layer.apply(variables, x),
                                  reference.apply(variables, x))


def test_subpixel_kernel_is_a_rearrangement_of_the_kernel():
  """Each 3x3 tap appears exactly once among the 2x2x(4 phases) taps."""
  kernel = jnp.arange(1.0, 10.0).reshape(3, 3, 1, 1)
  sub = fast_conv.subpixel_kernel(kernel, (2, 2))
  assert sub.shape == (2, 2, 1, 4)
  values = np.sort(np.asarray(sub).ravel())
  np.testing.assert_array_equal(values[values != 0], np.arange(1.0, 10.0))
  assert np.sum(values == 0) == 16 - 9


def test_depth_to_space_by_hand():
  x = jnp.arange(8.0).reshape(1, 1, 2, 4)  # 2 pixels, 4 phases, 1 channel
  y = fast_conv.depth_to_space(x, (2, 2))
  np.testing.assert_array_equal(
      y[0, :, :, 0], [[0.0, 1.0, 4.0, 5.0], [2.0, 3.0, 6.0, 7.0]])


def test_bad_impls_are_refused():
  x = _x(4, 4)
  with pytest.raises(ValueError, match="impl='nope'"):
    fast_conv.Conv(2, (3, 3), (2, 2), impl="nope").init(jax.random.key(0), x)
  with pytest.raises(ValueError, match="impl='nope'"):
    fast_conv.ConvTranspose(2, (3, 3), (2, 2), impl="nope").init(
        jax.random.key(0), x)
  with pytest.raises(ValueError, match="conv_impl='nope'"):
    validate_model(family="cnn", conv_impl="nope")


def test_auto_uses_the_cpu_forms_on_cpu_only(monkeypatch):
  assert fast_conv.use_cpu_forms(model_spec.CPU)
  assert not fast_conv.use_cpu_forms(model_spec.XLA)
  monkeypatch.setattr(jax, "default_backend", lambda: "cpu")
  assert fast_conv.use_cpu_forms(model_spec.AUTO)
  monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
  assert not fast_conv.use_cpu_forms(model_spec.AUTO)


def _rngs(seed):
  params, latent, dropout = jax.random.split(jax.random.key(seed), 3)
  return {"params": params, "latent": latent, "dropout": dropout}


def _loss_and_grads(model, variables, x):
  def loss(params):
    out, _ = model.apply({**variables, "params": params}, x, train=True,
                         rngs=_rngs(1), mutable=["batch_stats"])
    total = jnp.sum(jnp.square(out.recon_loc - x)) + jnp.sum(out.z ** 2)
    if out.class_logits is not None:
      total += jnp.sum(jax.nn.log_softmax(out.class_logits)[:, 0])
    return total
  return jax.value_and_grad(loss)(variables["params"])


@pytest.mark.parametrize("make_model,input_shape", [
    (lambda impl: cnn.CnnVAE((8, 8, 1), 3, hidden_sizes=(8,),
                             conv_channels=(4, 4, 4), conv_impl=impl),
     (8, 8, 1)),
    (lambda impl: cnn.CnnVAE((7, 9, 2), 3, hidden_sizes=(8,),
                             conv_channels=(4, 4, 4),
                             likelihood=model_spec.GAUSSIAN, conv_impl=impl),
     (7, 9, 2)),
    (lambda impl: multihead.MultiHeadCnnVAE(
        (16, 16, 1), (3, 4), latent_dim=3, hidden_sizes=(8,),
        conv_channels=(4, 4, 4, 4), decoder_channels=(4, 4, 4),
        conv_impl=impl), (16, 16, 1)),
])
def test_models_compute_the_same_with_either_impl(make_model, input_shape):
  """The CPU forms are the same model: same variables, loss and gradients."""
  x = jax.random.uniform(jax.random.key(3), (4,) + input_shape)
  reference, fast = make_model(model_spec.XLA), make_model(model_spec.CPU)
  variables = reference.init(_rngs(0), x, train=False)
  jax.tree.map(np.testing.assert_array_equal, variables,
               fast.init(_rngs(0), x, train=False))
  variables = _perturbed(variables)
  want_loss, want_grads = _loss_and_grads(reference, variables, x)
  got_loss, got_grads = _loss_and_grads(fast, variables, x)
  np.testing.assert_allclose(got_loss, want_loss, rtol=1e-5)
  # Relative to the largest gradient: the bias of a conv before BatchNorm
  # has a zero gradient up to rounding noise.
  scale = max(float(jnp.max(jnp.abs(w))) for w in jax.tree.leaves(want_grads))
  jax.tree.map(functools.partial(np.testing.assert_allclose, rtol=1e-4,
                                 atol=1e-5 * scale), got_grads, want_grads)
