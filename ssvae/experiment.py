"""What a run is, built from its config: the data, model, optimizer, mesh,
seeds and label pools (`Experiment`), and its initial train state.

`build_experiment(config)` validates the config and loads its data;
`experiment_from_dataset` builds on given data (custom labeled subsets, a
feedback fine-tune). ssvae.train trains an Experiment.
"""

import dataclasses
from typing import Any

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from ssvae import config_validation
from ssvae import data as data_lib
from ssvae import errors
from ssvae import models
from ssvae import sharding
from ssvae import rng
from ssvae import steps


@dataclasses.dataclass(frozen=True)
class Experiment:
  """Everything derived from a config before training starts."""
  config: ml_collections.ConfigDict
  dataset: data_lib.Dataset
  model: Any
  tx: optax.GradientTransformation
  mesh: Any
  seeds: tuple
  sampling_mode: str
  pools: data_lib.Pools  # numpy, leading seed axis

  @property
  def num_seeds(self) -> int:
    return len(self.seeds)


def labeled_indices_from_config(config, y: np.ndarray, num_classes: int,
                                seed: int) -> np.ndarray:
  """The labeled rows of `y` for one seed, as config.data asks: a
  class-balanced label_fraction (when >= 0) or num_labels (-1 = every row
  that has a label)."""
  data = config.data
  if data.label_fraction >= 0:
    return data_lib.select_labeled_indices(
        y, fraction=data.label_fraction, num_classes=num_classes, seed=seed)
  if data.num_labels == -1:
    return data_lib.labeled_rows(y)
  return data_lib.select_labeled_indices(
      y, num_labels=data.num_labels, num_classes=num_classes, seed=seed)


def build_experiment(config: ml_collections.ConfigDict,
                     devices=None) -> Experiment:
  """Validates the config, loads its data and builds everything else."""
  config_validation.validate(config)
  return experiment_from_dataset(config, data_lib.load_dataset(config.data),
                                 devices)


def experiment_from_dataset(config: ml_collections.ConfigDict,
                            dataset: data_lib.Dataset, devices=None,
                            labeled_indices=None) -> Experiment:
  """Builds an experiment on a given data set.

  labeled_indices: optional explicit labeled subset of the train split, one
    int array per seed (all of one length); by default it is selected from
    config.data.num_labels / label_fraction, class-balanced, per seed.
  """
  config_validation.validate(config)
  if config.data.held_out_class >= 0:
    dataset = data_lib.hold_out_class(dataset, config.data.held_out_class)
  if labeled_indices is None and dataset.validation is None:
    # After the hold-out, so validation holds normal classes only.
    dataset = data_lib.split_validation(
        dataset, validation_size(config, dataset), config.data.split_seed)
  seeds = tuple(config.seed + i for i in range(config.train.num_seeds))
  if labeled_indices is None:
    labeled = [labeled_indices_from_config(config, dataset.train.y,
                                           dataset.num_classes, s)
               for s in seeds]
  else:
    labeled = [np.asarray(idx, np.int32) for idx in labeled_indices]
    if len(labeled) != len(seeds) or len({len(i) for i in labeled}) != 1:
      raise ValueError(
          f"labeled_indices must hold {len(seeds)} arrays of equal length "
          f"(one per seed), got lengths {[len(i) for i in labeled]}.")
  num_train = len(dataset.train)
  _check_batch_fits(config, dataset)
  mode = data_lib.sampling_mode(config.model.variant, len(labeled[0]),
                                num_train)
  pool_list = [data_lib.make_pools(num_train, idx, config.model.variant)
               for idx in labeled]
  pools = jax.tree.map(lambda *a: np.stack(a), *pool_list)
  model = models.build_model(
      model_config_for(config, dataset.input_shape),
      input_shape=dataset.input_shape,
      num_classes=dataset.num_classes, likelihood=dataset.likelihood,
      factor_sizes=dataset.factor_sizes)
  mesh = sharding.make_mesh(len(seeds), devices)
  sharding.check_batch_divisible(mesh, config.train.batch_size)
  return Experiment(config=config, dataset=dataset, model=model,
                    tx=steps.make_optimizer(config.optimizer), mesh=mesh,
                    seeds=seeds, sampling_mode=mode, pools=pools)


def model_config_for(config, input_shape: tuple):
  """config.model, with family 'auto' resolved for examples of input_shape
  (models.family_for_input) and the chosen family's fields validated. The
  config itself keeps 'auto': the data choose again, the same way, when a
  run resumes."""
  if config.model.family != models.AUTO:
    return config.model
  resolved = config.copy_and_resolve_references()
  resolved.model.family = models.family_for_input(input_shape)
  logging.info("model.family='auto': %s for examples of shape %s.",
               resolved.model.family, tuple(input_shape))
  config_validation.validate(resolved)
  return resolved.model


def _check_batch_fits(config, dataset: data_lib.Dataset) -> None:
  """A training batch no larger than the training split (what is left for
  training after the validation split and a held-out class): a larger one
  only repeats points, and at a huge size runs out of memory."""
  batch_size, num_train = config.train.batch_size, len(dataset.train)
  if batch_size <= num_train:
    return
  validation = dataset.validation
  held_out = (f" and class {config.data.held_out_class} held out"
              if config.data.held_out_class >= 0 else "")
  raise errors.ConfigError(
      f"config.train.batch_size={batch_size} is larger than the training "
      f"split: {dataset.name!r} has {num_train} training points (after "
      f"{0 if validation is None else len(validation)} validation points"
      f"{held_out}); use a batch of at most {num_train}.")


def labeled_fraction(config) -> float:
  """config.data.labeled_fraction_of_batch (the paper's 0.5 in configs
  written before the field existed)."""
  return config.data.get("labeled_fraction_of_batch",
                         data_lib.PAPER_LABELED_FRACTION)


def validation_size(config, dataset: data_lib.Dataset) -> int:
  """config.data.validation_size, with -1 resolved to the data set default."""
  size = config.data.validation_size
  if size == -1:
    return data_lib.default_validation_size(dataset.name, len(dataset.train))
  return size


def init_train_state(exp: Experiment) -> steps.TrainState:
  init_keys = rng.seed_keys(exp.seeds, "params")
  example = jnp.asarray(exp.dataset.train.x[:2])
  init = jax.vmap(lambda k: steps.init_state(exp.model, exp.tx, k, example))
  return jax.jit(init, out_shardings=sharding.per_seed(exp.mesh))(
      sharding.put(init_keys, sharding.per_seed(exp.mesh)))


def describe_splits(exp: Experiment) -> str:
  """Where the training, validation and test points come from, in words."""
  data, size = exp.dataset, lambda split: len(split.y)
  held_out = exp.config.data.held_out_class
  validation = ("no validation split (the last step is reported)"
                if data.validation is None else
                f"validation {size(data.validation)} points held out of the "
                "training split (class-stratified, data.split_seed="
                f"{exp.config.data.split_seed}), the same for every seed")
  return (f"Data {data.name}: training {size(data.train)} points"
          + (f" (class {held_out} held out)" if held_out >= 0 else "")
          + f"; {validation}; test {size(data.test)} points, "
          + _test_split_origin(exp.config, data.name))


def _test_split_origin(config, name: str) -> str:
  if name == "digits":
    return ("a class-stratified random split of digits' images (it has no "
            "official test split), so validation and test come from one "
            "distribution.")
  if name == data_lib.ARRAYS_NAME:
    return f"the file data.test_path={config.data.test_path}."
  return "the data set's official test split."
