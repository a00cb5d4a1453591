"""Tests for ssvae.data.sampler."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ssvae.data import sampler

NUM_TRAIN = 20
# x[i] is filled with i and y[i] = 100 + i, so a batch reveals its indices.
X = jnp.broadcast_to(jnp.arange(NUM_TRAIN, dtype=jnp.float32)[:, None, None],
                     (NUM_TRAIN, 2, 3))
Y = jnp.arange(NUM_TRAIN, dtype=jnp.int32) + 100
LABELED = np.array([2, 5, 11])


def _indices(batch):
  return np.asarray(batch["x"][:, 0, 0]).astype(int)


def test_make_pools_semi_supervised_complement():
  pools = sampler.make_pools(NUM_TRAIN, LABELED, "semi_supervised")
  assert pools.labeled.dtype == jnp.int32
  np.testing.assert_array_equal(pools.labeled, LABELED)
  np.testing.assert_array_equal(
      pools.unlabeled, sorted(set(range(NUM_TRAIN)) - set(LABELED)))


def test_make_pools_unsupervised_uses_whole_train_set():
  pools = sampler.make_pools(NUM_TRAIN, LABELED, "unsupervised")
  np.testing.assert_array_equal(pools.unlabeled, np.arange(NUM_TRAIN))


@pytest.mark.parametrize("indices,match", [
    (np.array([0, 20]), r"0\.\.19"),
    (np.array([1, 1]), "duplicates"),
    (np.array([[1]]), "1-D"),
])
def test_make_pools_bad_indices(indices, match):
  with pytest.raises(ValueError, match=match):
    sampler.make_pools(NUM_TRAIN, indices, "semi_supervised")


def test_make_pools_unknown_variant():
  with pytest.raises(ValueError, match="semi"):
    sampler.make_pools(NUM_TRAIN, LABELED, "semisupervised")


@pytest.mark.parametrize("variant,num_labeled,mode", [
    ("semi_supervised", 3, "mixed"),
    ("semi_supervised", NUM_TRAIN, "labeled"),
    ("semi_supervised", 0, "unlabeled"),
    ("supervised", 3, "labeled"),
    ("supervised", NUM_TRAIN, "labeled"),
    ("unsupervised", 3, "unlabeled"),
    ("unsupervised", 0, "unlabeled"),
])
def test_sampling_mode(variant, num_labeled, mode):
  assert sampler.sampling_mode(variant, num_labeled, NUM_TRAIN) == mode


def test_sampling_mode_errors():
  with pytest.raises(ValueError, match="supervised variant needs labels"):
    sampler.sampling_mode("supervised", 0, NUM_TRAIN)
  with pytest.raises(ValueError, match="num_labeled=21"):
    sampler.sampling_mode("semi_supervised", 21, NUM_TRAIN)


def test_mixed_batch_halves_masks_and_pools():
  pools = sampler.make_pools(NUM_TRAIN, LABELED, "semi_supervised")
  batch = sampler.sample_batch(jax.random.key(0), X, Y, pools, 64, "mixed")
  assert batch["x"].shape == (64, 2, 3) and batch["x"].dtype == jnp.float32
  assert batch["label"].dtype == jnp.int32
  assert batch["label_mask"].dtype == jnp.float32
  np.testing.assert_array_equal(batch["label_mask"], [1.0] * 32 + [0.0] * 32)
  indices = _indices(batch)
  np.testing.assert_array_equal(batch["label"], indices + 100)
  assert set(indices[:32]) == set(LABELED)  # Small pool up-sampled fully.
  assert not set(indices[32:]) & set(LABELED)


def test_labeled_and_unlabeled_modes():
  pools = sampler.make_pools(NUM_TRAIN, LABELED, "supervised")
  batch = sampler.sample_batch(jax.random.key(1), X, Y, pools, 9, "labeled")
  np.testing.assert_array_equal(batch["label_mask"], np.ones(9))
  assert set(_indices(batch)) <= set(LABELED)
  pools = sampler.make_pools(NUM_TRAIN, LABELED, "unsupervised")
  batch = sampler.sample_batch(jax.random.key(1), X, Y, pools, 40,
                               "unlabeled")
  np.testing.assert_array_equal(batch["label_mask"], np.zeros(40))
  assert set(_indices(batch)) & set(LABELED)  # Whole train set is the pool.


def test_multi_factor_labels_keep_their_columns():
  y = jnp.stack([Y, Y + 1000], axis=1)
  pools = sampler.make_pools(NUM_TRAIN, LABELED, "semi_supervised")
  batch = sampler.sample_batch(jax.random.key(2), X, y, pools, 4, "mixed")
  assert batch["label"].shape == (4, 2)
  np.testing.assert_array_equal(batch["label"][:, 1] - batch["label"][:, 0],
                                [1000] * 4)


def test_same_rng_same_batch_different_rng_different_batch():
  pools = sampler.make_pools(NUM_TRAIN, LABELED, "semi_supervised")
  sample = lambda key: _indices(
      sampler.sample_batch(jax.random.key(key), X, Y, pools, 16, "mixed"))
  np.testing.assert_array_equal(sample(5), sample(5))
  assert not np.array_equal(sample(5), sample(6))


@pytest.mark.parametrize("fraction,num_labeled", [(0.5, 8), (0.25, 4),
                                                   (0.125, 2)])
def test_labeled_fraction_sets_the_labeled_share(fraction, num_labeled):
  pools = sampler.make_pools(NUM_TRAIN, LABELED, "semi_supervised")
  batch = sampler.sample_batch(jax.random.key(3), X, Y, pools, 16, "mixed",
                               labeled_fraction=fraction)
  indices = _indices(batch)
  assert set(indices[:num_labeled]) <= set(LABELED)
  assert not set(indices[num_labeled:]) & set(LABELED)
  np.testing.assert_array_equal(
      batch["label_mask"], [1] * num_labeled + [0] * (16 - num_labeled))
  assert sampler.labeled_first("mixed", 16, fraction) == num_labeled


def test_the_default_fraction_is_the_papers_one_to_one_batch():
  pools = sampler.make_pools(NUM_TRAIN, LABELED, "semi_supervised")
  key = jax.random.key(4)
  np.testing.assert_array_equal(
      _indices(sampler.sample_batch(key, X, Y, pools, 16, "mixed")),
      _indices(sampler.sample_batch(key, X, Y, pools, 16, "mixed",
                                    labeled_fraction=0.5)))
  assert sampler.labeled_first("mixed", 16) == 8


@pytest.mark.parametrize("fraction", [0.1, 0.0, 1.0])
def test_a_fraction_that_is_no_whole_number_of_points_is_refused(fraction):
  pools = sampler.make_pools(NUM_TRAIN, LABELED, "semi_supervised")
  with pytest.raises(ValueError, match="whole number in 1..15"):
    sampler.sample_batch(jax.random.key(0), X, Y, pools, 16, "mixed",
                         labeled_fraction=fraction)


def test_sample_batch_errors():
  pools = sampler.make_pools(NUM_TRAIN, LABELED, "semi_supervised")
  key = jax.random.key(0)
  with pytest.raises(ValueError, match="even"):
    sampler.sample_batch(key, X, Y, pools, 7, "mixed")
  with pytest.raises(ValueError, match="sampling mode"):
    sampler.sample_batch(key, X, Y, pools, 8, "semi")
  empty = sampler.make_pools(NUM_TRAIN, np.arange(NUM_TRAIN), "supervised")
  with pytest.raises(ValueError, match="empty unlabeled pool"):
    sampler.sample_batch(key, X, Y, empty, 8, "unlabeled")


def test_jit_and_vmap_over_stacked_pools():
  labeled_per_seed = [np.array([0, 1]), np.array([7, 8]), np.array([15, 19])]
  pools = jax.tree.map(
      lambda *leaves: jnp.stack(leaves),
      *[sampler.make_pools(NUM_TRAIN, labeled, "semi_supervised")
        for labeled in labeled_per_seed])
  assert pools.labeled.shape == (3, 2) and pools.unlabeled.shape == (3, 18)
  keys = jax.random.split(jax.random.key(0), 3)
  draw = jax.jit(jax.vmap(
      functools.partial(sampler.sample_batch, batch_size=10, mode="mixed"),
      in_axes=(0, None, None, 0)))
  batch = draw(keys, X, Y, pools)
  assert batch["x"].shape == (3, 10, 2, 3)
  assert batch["label_mask"].shape == (3, 10)
  for seed, labeled in enumerate(labeled_per_seed):
    indices = np.asarray(batch["x"][seed, :, 0, 0]).astype(int)
    assert set(indices[:5]) <= set(labeled)
    assert not set(indices[5:]) & set(labeled)
  # Each seed's batch equals the unbatched sample with that seed's key.
  one = sampler.sample_batch(keys[1], X, Y,
                             jax.tree.map(lambda a: a[1], pools), 10, "mixed")
  np.testing.assert_array_equal(batch["label"][1], one["label"])


@pytest.mark.parametrize("mode", sampler.MODES)
def test_labeled_first_counts_the_leading_labeled_points(mode):
  pools = sampler.make_pools(NUM_TRAIN, LABELED, "semi_supervised")
  batch = sampler.sample_batch(jax.random.key(3), X, Y, pools, 12, mode)
  count = sampler.labeled_first(mode, 12)
  np.testing.assert_array_equal(batch["label_mask"],
                                [1.0] * count + [0.0] * (12 - count))
  with pytest.raises(ValueError, match="Unknown sampling mode 'half'"):
    sampler.labeled_first("half", 12)
