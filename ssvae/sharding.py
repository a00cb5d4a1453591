"""Device mesh and shardings: seeds x data parallelism over one `Mesh`.

Every array that belongs to one run (parameters, optimizer state, label
pools, keys) carries a leading seed axis, sharded over the mesh's "seed" axis.
Batches are additionally sharded over "data". Training data lives on every
device (replicated). With one seed and N devices this is plain data
parallelism; with N seeds it trains N runs side by side.

The mesh may span several processes (jax.distributed, --multihost): then an
array on it is global and no process holds all of it. `put` and `to_host`
are the one way host data goes onto the mesh and comes back, on 1 process
or N: every process holds the same host values in full, builds its own
shards from them (`put`), and reads back the whole value (`to_host`).
"""

import math

import jax
from jax.experimental import multihost_utils
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


def _put_leaf(x, sharding):
  if isinstance(x, jax.Array) and x.sharding == sharding:
    return x
  if isinstance(x, jax.Array) and not x.is_fully_addressable:
    # Already global (every process holds its shards): reshard on device.
    return jax.jit(lambda a: a, out_shardings=sharding)(x)
  if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):  # typed keys
    return jax.random.wrap_key_data(
        _put_leaf(jax.random.key_data(x), sharding),
        impl=jax.random.key_impl(x))
  host = np.asarray(x)
  return jax.make_array_from_callback(host.shape, sharding,
                                      lambda index: host[index])


def put(tree, sharding):
  """`tree`'s leaves as arrays laid out by `sharding`, from host values
  (numpy, or arrays one process holds in full) that EVERY process holds
  alike; each process fills only its own devices' shards. On one process
  the same as jax.device_put(tree, sharding); a leaf that is already a
  global array is resharded on device."""
  return jax.tree.map(lambda x: _put_leaf(x, sharding), tree)


def _host_leaf(x) -> np.ndarray:
  if isinstance(x, jax.Array) and not x.is_fully_addressable:
    return np.asarray(multihost_utils.process_allgather(x, tiled=True))
  return np.asarray(x)


def to_host(tree):
  """`tree`'s leaves as numpy arrays holding their whole (global) value,
  on every process. An array spread over several processes is gathered
  (a collective: every process must call this alike, in the same order)."""
  return jax.tree.map(_host_leaf, tree)


def check_batch_divisible(mesh: Mesh, batch_size: int) -> None:
  data_shards = mesh.shape[DATA_AXIS]
  if batch_size % data_shards:
    raise errors.ConfigError(
        f"config.train.batch_size={batch_size} must be divisible by the "
        f"{data_shards} devices of the mesh's data axis.")
