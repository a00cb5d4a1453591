"""Device mesh and shardings: seeds x data parallelism over one `Mesh`.

Every array that belongs to one run (parameters, optimizer state, label
pools, keys) carries a leading seed axis, sharded over the mesh's "seed" axis.
Batches are additionally sharded over "data". Training data lives on every
device (replicated). With one seed and N devices this is plain data
parallelism; with N seeds it trains N runs side by side.
"""

import math

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from ssvae import errors

SEED_AXIS = "seed"
DATA_AXIS = "data"


def make_mesh(num_seeds: int, devices=None) -> Mesh:
  """A (seed, data) mesh using all devices; seeds get as many as divide them."""
  devices = np.asarray(devices if devices is not None else jax.devices())
  seed_shards = math.gcd(num_seeds, devices.size)
  return Mesh(devices.reshape(seed_shards, devices.size // seed_shards),
              (SEED_AXIS, DATA_AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def per_seed(mesh: Mesh) -> NamedSharding:
  """Leading seed axis sharded, everything else replicated."""
  return NamedSharding(mesh, P(SEED_AXIS))


def per_seed_batch(mesh: Mesh) -> NamedSharding:
  """[seed, batch, ...]: seeds and examples both sharded."""
  return NamedSharding(mesh, P(SEED_AXIS, DATA_AXIS))


def check_batch_divisible(mesh: Mesh, batch_size: int) -> None:
  data_shards = mesh.shape[DATA_AXIS]
  if batch_size % data_shards:
    raise errors.ConfigError(
        f"config.train.batch_size={batch_size} must be divisible by the "
        f"{data_shards} devices of the mesh's data axis.")
