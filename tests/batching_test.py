"""Tests for ssvae.metrics.batching."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ssvae.metrics import batching


def test_pads_the_last_batch_and_compiles_once():
  traces = []

  @jax.jit
  def score_fn(batch):
    traces.append(batch.shape)
    return jnp.sum(batch, axis=1)

  x = np.arange(14, dtype=np.float32).reshape(7, 2)
  got = batching.map_in_batches(score_fn, x, batch_size=3)
  np.testing.assert_allclose(got, x.sum(axis=1))
  assert traces == [(3, 2)]


def test_multi_axis_outputs_keep_their_order():
  seen = []

  def fake_encoder(batch):
    seen.append(batch.shape)
    return batch.reshape(len(batch), -1)[:, :2] * 2.0

  x = np.arange(14, dtype=np.float32).reshape(7, 2)
  codes = batching.map_in_batches(fake_encoder, x, batch_size=3)
  np.testing.assert_array_equal(codes, 2.0 * x)
  assert seen == [(3, 2)] * 3


def test_each_batch_gets_its_own_key():
  keys = []

  def score_fn(batch, key):
    keys.append(jax.random.key_data(key).tolist())
    return np.zeros(len(batch))

  rng = jax.random.key(5)
  batching.map_in_batches(score_fn, np.zeros((5, 1)), batch_size=2, rng=rng)
  assert len(keys) == 3
  assert keys[1] == jax.random.key_data(jax.random.fold_in(rng, 1)).tolist()
  assert len({tuple(k) for k in keys}) == 3


def test_wrong_output_shape_is_named():
  with pytest.raises(ValueError, match=r"expected \(2,\)"):
    batching.map_in_batches(lambda b: np.zeros((len(b), 1)), np.zeros((4, 1)),
                            batch_size=2, output_ndim=1)
  with pytest.raises(ValueError, match=r"expected \(2, \.\.\.\)"):
    batching.map_in_batches(lambda b: np.zeros((1, 3)), np.zeros((4, 1)),
                            batch_size=2)


@pytest.mark.parametrize("batch_size", [0, 2.5])
def test_bad_batch_size_and_empty_input(batch_size):
  with pytest.raises(ValueError, match="batch_size"):
    batching.map_in_batches(np.asarray, np.zeros((4, 1)), batch_size)
  with pytest.raises(ValueError, match="empty"):
    batching.map_in_batches(np.asarray, np.zeros((0, 1)), 2)
