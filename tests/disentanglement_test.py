"""Tests for the betaVAE score and the factor-grid sampler."""

import itertools

import numpy as np
import pytest

from ssvae.metrics import disentanglement

FACTOR_SIZES = (3, 4, 5)
SMALL = dict(batch_size=16, num_train=300, num_eval=300, points_per_call=25)


def _grid(rng=None):
  """All factor combinations (shuffled if rng), observations = 2x2 images."""
  classes = np.array(list(itertools.product(*map(range, FACTOR_SIZES))))
  if rng is not None:
    classes = classes[rng.permutation(len(classes))]
  # Observation encodes its own factors so lookups can be checked exactly.
  images = np.zeros((len(classes), 2, 2), np.float32)
  images[:, 0, 0], images[:, 0, 1], images[:, 1, 0] = classes.T
  return images, classes


def _factors_of(images):
  """Inverse of _grid's encoding: [B, 2, 2] -> factor values [B, 3]."""
  return np.stack([images[:, 0, 0], images[:, 0, 1], images[:, 1, 0]], -1)


def _sampler(rng=None):
  images, classes = _grid(rng)
  return disentanglement.FactorSampler(FACTOR_SIZES, images, classes)


def test_observations_for_finds_the_matching_observation_in_a_shuffled_grid():
  sampler = _sampler(np.random.default_rng(3))
  factors = sampler.sample_factors(50, np.random.default_rng(0))
  assert factors.shape == (50, 3)
  np.testing.assert_array_equal(
      _factors_of(sampler.observations_for(factors)), factors)
  # Leading axes are kept.
  assert sampler.observations_for(factors.reshape(5, 10, 3)).shape == (
      5, 10, 2, 2)


def test_sample_factors_covers_every_class_and_stays_in_range():
  factors = _sampler().sample_factors(2000, np.random.default_rng(0))
  for k, size in enumerate(FACTOR_SIZES):
    assert set(np.unique(factors[:, k])) == set(range(size))


def test_incomplete_grid_is_rejected():
  images, classes = _grid()
  with pytest.raises(ValueError, match="incomplete"):
    disentanglement.FactorSampler(FACTOR_SIZES, images[1:], classes[1:])


def test_duplicated_cell_is_rejected():
  images, classes = _grid()
  classes = classes.copy()
  classes[1] = classes[0]
  with pytest.raises(ValueError, match="duplicated"):
    disentanglement.FactorSampler(FACTOR_SIZES, images, classes)


@pytest.mark.parametrize("change, message", [
    (lambda c: c + 1, "outside 0..2"),
    (lambda c: c[:, :2], r"shape \[N, 3\]"),
    (lambda c: c.astype(np.float32), "integers"),
])
def test_bad_factor_classes_are_rejected(change, message):
  images, classes = _grid()
  with pytest.raises(ValueError, match=message):
    disentanglement.FactorSampler(FACTOR_SIZES, images, change(classes))


def test_mismatched_lengths_are_rejected():
  images, classes = _grid()
  with pytest.raises(ValueError, match="observations but"):
    disentanglement.FactorSampler(FACTOR_SIZES, images[:-1], classes)


def test_fixed_factor_has_exactly_zero_feature_for_identity_codes():
  features, labels = disentanglement.beta_vae_points(
      lambda x: _factors_of(x), _sampler(), np.random.default_rng(0), 40,
      batch_size=32, points_per_call=16)
  assert features.shape == (40, 3) and labels.shape == (40,)
  np.testing.assert_array_equal(features[np.arange(40), labels], 0.0)
  other = np.ones_like(features, bool)
  other[np.arange(40), labels] = False
  assert np.all(features[other] > 0)  # 32 draws never all agree by chance.


def test_every_encoder_call_has_the_same_batch_size():
  seen = []

  def representation_fn(x):
    seen.append(len(x))
    return _factors_of(x)

  disentanglement.beta_vae_points(
      representation_fn, _sampler(), np.random.default_rng(0), 37,
      batch_size=8, points_per_call=10)
  assert seen == [2 * 10 * 8] * 4  # ceil(37 / 10) calls, last one trimmed.


def test_identity_representation_scores_near_one():
  noise_rng = np.random.default_rng(1)

  def representation_fn(x):
    # Factor values, scaled, plus two code dimensions of pure noise.
    codes = _factors_of(x) * np.array([2.0, 0.5, 1.0])
    return np.concatenate([codes, noise_rng.normal(size=(len(x), 2))], -1)

  scores = disentanglement.beta_vae_score(
      representation_fn, _sampler(), np.random.default_rng(0), **SMALL)
  assert scores["train_accuracy"] > 0.95
  assert scores["eval_accuracy"] > 0.95


def test_random_representation_scores_near_chance():
  noise_rng = np.random.default_rng(1)
  scores = disentanglement.beta_vae_score(
      lambda x: noise_rng.normal(size=(len(x), 4)), _sampler(),
      np.random.default_rng(0), **SMALL)
  assert scores["eval_accuracy"] < 1 / len(FACTOR_SIZES) + 0.15


def test_score_is_deterministic_given_the_seed():
  def representation_fn(x):
    return _factors_of(x) + 0.3 * np.sin(37.0 * _factors_of(x)[:, ::-1])

  run = lambda seed: disentanglement.beta_vae_score(
      representation_fn, _sampler(), np.random.default_rng(seed),
      batch_size=4, num_train=200, num_eval=200, points_per_call=20)
  assert run(0) == run(0)
  points = lambda: disentanglement.beta_vae_points(
      representation_fn, _sampler(), np.random.default_rng(0), 30)
  for first, second in zip(points(), points()):
    np.testing.assert_array_equal(first, second)
  assert run(0) != run(1)  # Batches of 4 are noisy enough to differ.


@pytest.mark.parametrize("kwargs, message", [
    (dict(batch_size=0), "batch_size must be a positive int"),
    (dict(num_train=-5), "num_train must be a positive int"),
    (dict(num_eval=2.5), "num_eval must be a positive int"),
])
def test_bad_sizes_are_rejected(kwargs, message):
  with pytest.raises(ValueError, match=message):
    disentanglement.beta_vae_score(
        _factors_of, _sampler(), np.random.default_rng(0), **kwargs)


def test_representation_with_wrong_shape_is_rejected():
  with pytest.raises(ValueError, match=r"\[B, D\] codes"):
    disentanglement.beta_vae_score(
        lambda x: x, _sampler(), np.random.default_rng(0), **SMALL)


def test_non_finite_codes_are_rejected():
  with pytest.raises(ValueError, match="non-finite"):
    disentanglement.beta_vae_score(
        lambda x: np.full((len(x), 2), np.nan), _sampler(),
        np.random.default_rng(0), **SMALL)


def test_constant_factor_is_rejected():
  images, classes = _grid()
  sampler = disentanglement.FactorSampler(
      (1,) + FACTOR_SIZES, images,
      np.concatenate([np.zeros_like(classes[:, :1]), classes], -1))
  with pytest.raises(ValueError, match="at least two classes"):
    disentanglement.beta_vae_score(
        _factors_of, sampler, np.random.default_rng(0), **SMALL)
