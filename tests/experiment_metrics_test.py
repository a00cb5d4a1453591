"""Tests for ssvae.metrics.experiment_metrics: the per-seed betaVAE score."""

import dataclasses
import itertools

import jax
import ml_collections
import numpy as np
import pytest

from configs import dsprites_multihead
from ssvae.metrics import batching
from ssvae import experiment as experiment_lib
from ssvae import steps
from ssvae import train
from ssvae.data import dsprites
from ssvae.metrics import disentanglement
from ssvae.metrics import experiment_metrics

# shape x scale x orientation x pos_x x pos_y: a complete grid of 72 images.
SIZES = (3, 2, 2, 3, 2)
IMAGE_SIZE = 8


def _grid_images():
  """8x8 binary images whose pixels depend on every factor."""
  classes = np.array(list(itertools.product(*map(range, SIZES))), np.int64)
  images = np.zeros((len(classes), IMAGE_SIZE, IMAGE_SIZE), np.uint8)
  for image, (shape, scale, orientation, x, y) in zip(images, classes):
    side = 2 + scale
    patch = np.ones((side, side), np.uint8)
    if shape == 1:
      patch[1:-1, 1:-1] = 0
    elif shape == 2:
      patch = np.eye(side, dtype=np.uint8)
    if orientation:
      patch = patch[::-1]
    image[2 * y:2 * y + side, 2 * x:2 * x + side] = patch
  return images, classes


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  directory = tmp_path_factory.mktemp("dsprites")
  images, classes = _grid_images()
  np.savez(directory / "tiny.npz", imgs=images, latents_classes=classes)
  return str(directory)


def quick_config(data_dir):
  config = dsprites_multihead.get_config("quick")
  config.data.data_dir = data_dir
  return config


@pytest.fixture(scope="module")
def trained(data_dir, tmp_path_factory):
  """A tiny multi-head model, 2 seeds trained 4 steps, and its final metrics.

  (train_and_evaluate is train + final_metrics + writing results.json.)
  """
  run = train.train(quick_config(data_dir),
                    str(tmp_path_factory.mktemp("run")))
  exp, state = run.exp, run.last
  results = {"seeds": list(exp.seeds),
             "metrics": experiment_metrics.final_metrics(exp, state)}
  return results, exp, state


def test_results_carry_one_score_per_seed_in_unit_interval(trained):
  results, exp, _ = trained
  scores = results["metrics"]["beta_vae_score"]
  assert results["seeds"] == [0, 1] and len(scores) == 2
  assert all(0.0 <= s <= 1.0 for s in scores)
  assert exp.dataset.factor_sizes == SIZES


def test_lookup_of_grid_codes_equals_encoding_each_observation(trained):
  # The hook encodes every grid cell once and looks codes up; that must give
  # the score of encoding every sampled observation, as disentanglement_lib.
  results, exp, state = trained
  settings = exp.config.beta_vae
  for index in range(exp.num_seeds):
    encoder = experiment_metrics.encoder_mean_fn(
        exp.model, steps.seed_slice(state, index))
    grid = experiment_metrics.grid_split(exp.dataset)
    sampler = disentanglement.FactorSampler(exp.dataset.factor_sizes, grid.x,
                                            grid.y)
    direct = disentanglement.beta_vae_score(
        encoder, sampler, np.random.default_rng(settings.seed),
        batch_size=settings.batch_size, num_train=settings.num_train,
        num_eval=settings.num_eval,
        points_per_call=experiment_metrics.POINTS_PER_CALL)
    assert results["metrics"]["beta_vae_score"][index] == pytest.approx(
        direct["eval_accuracy"], abs=1e-9)


def test_seeds_get_their_own_models(trained):
  _, exp, state = trained
  codes = [batching.map_in_batches(
      experiment_metrics.encoder_mean_fn(
          exp.model, steps.seed_slice(state, i)),
      experiment_metrics.grid_split(exp.dataset).x, 32) for i in range(2)]
  assert codes[0].shape == (72, 4)
  assert not np.allclose(codes[0], codes[1])


def test_hook_is_opt_in(trained):
  _, exp, state = trained
  config = ml_collections.ConfigDict(exp.config.to_dict())
  del config["beta_vae"]
  metrics = experiment_metrics.final_metrics(dataclasses.replace(exp, config=config),
                                     state)
  assert "beta_vae_score" not in metrics and "elbo" in metrics


def _untrained(config):
  """An experiment without parameters: every check runs before they are used."""
  exp = experiment_lib.experiment_from_dataset(
      config, dsprites.dataset_from_arrays(*_grid_images()),
      devices=jax.devices()[:1])
  return exp, None


@pytest.mark.parametrize("field, value, message", [
    ("num_eval", 0, "config.beta_vae.num_eval must be positive"),
    ("seed", 1.5, "config.beta_vae.seed must be an int"),
    ("batch_size", None, "config.beta_vae.batch_size must be an int"),
])
def test_bad_settings_name_the_field(data_dir, field, value, message):
  config = quick_config(data_dir)
  settings = config.beta_vae.to_dict()
  settings[field] = value  # A fresh ConfigDict: the old one is type-safe.
  config.beta_vae = ml_collections.ConfigDict(settings)
  exp, state = _untrained(quick_config(data_dir))
  exp = dataclasses.replace(exp, config=config)
  with pytest.raises(ValueError, match=message):
    experiment_metrics.beta_vae_per_seed(exp, state)


def test_supervised_variant_has_no_code_to_score(data_dir):
  config = quick_config(data_dir)
  config.model.variant = "supervised"
  exp, state = _untrained(config)
  with pytest.raises(ValueError, match="encoder mean z.*'supervised'"):
    experiment_metrics.beta_vae_per_seed(exp, state)


def test_data_without_factors_is_rejected(data_dir):
  exp, state = _untrained(quick_config(data_dir))
  train_split = exp.dataset.train
  flat = dataclasses.replace(exp.dataset, factor_sizes=(), name="flat")
  with pytest.raises(ValueError, match="'flat' has none"):
    experiment_metrics.beta_vae_per_seed(
        dataclasses.replace(exp, dataset=flat), state)
  partial = dataclasses.replace(exp.dataset, train=dataclasses.replace(
      train_split, x=train_split.x[1:], y=train_split.y[1:]))
  with pytest.raises(ValueError, match="incomplete"):
    experiment_metrics.beta_vae_per_seed(
        dataclasses.replace(exp, dataset=partial), state)
