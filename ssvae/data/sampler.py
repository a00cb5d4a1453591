"""The paper's batch sampler, on device.

Semi-supervised batches are half labeled, half unlabeled (1:1). Both halves
are drawn uniformly with replacement from their pools, so a pool of 100
labeled points is simply up-sampled. Pools are a pytree: stacking one per
seed along a leading axis lets `jax.vmap` sample for all seeds at once.
`mode` and `batch_size` are static Python values.
"""

import flax
import jax
import jax.numpy as jnp
import numpy as np

from ssvae import model_spec

MIXED = "mixed"
LABELED = "labeled"
UNLABELED = "unlabeled"
MODES = (MIXED, LABELED, UNLABELED)


@flax.struct.dataclass
class Pools:
  """Indices into the training split.

  labeled: int32 [L] points whose labels are used.
  unlabeled: int32 [U] points used without labels.
  """
  labeled: jax.Array
  unlabeled: jax.Array


def _check_variant(variant: str) -> None:
  if variant not in model_spec.VARIANTS:
    raise ValueError(
        f"Unknown variant {variant!r}; expected one of {model_spec.VARIANTS}.")


def make_pools(num_train: int, labeled_indices: np.ndarray,
               variant: str) -> Pools:
  """Pools for one seed.

  The unlabeled pool is the complement of the labeled one, except for the
  unsupervised variant, which sees the whole training split unlabeled.
  """
  _check_variant(variant)
  labeled = np.asarray(labeled_indices)
  if labeled.ndim != 1 or (labeled.size and
                           not np.issubdtype(labeled.dtype, np.integer)):
    raise ValueError(
        "labeled_indices must be a 1-D integer array, got shape "
        f"{labeled.shape} dtype {labeled.dtype}.")
  if labeled.size and (labeled.min() < 0 or labeled.max() >= num_train):
    raise ValueError(
        f"labeled_indices must lie in 0..{num_train - 1}, found "
        f"{labeled.min()}..{labeled.max()}.")
  if len(np.unique(labeled)) != len(labeled):
    raise ValueError("labeled_indices contains duplicates.")
  if variant == model_spec.UNSUPERVISED:
    unlabeled = np.arange(num_train)
  else:
    unlabeled = np.setdiff1d(np.arange(num_train), labeled)
  return Pools(labeled=jnp.asarray(labeled, dtype=jnp.int32),
               unlabeled=jnp.asarray(unlabeled, dtype=jnp.int32))


def sampling_mode(variant: str, num_labeled: int, num_train: int) -> str:
  """'mixed', 'labeled' or 'unlabeled': which pools a batch comes from."""
  _check_variant(variant)
  if not 0 <= num_labeled <= num_train:
    raise ValueError(
        f"num_labeled={num_labeled} must lie in 0..num_train={num_train}.")
  if variant == model_spec.UNSUPERVISED:
    return UNLABELED
  if variant == model_spec.SUPERVISED:
    if num_labeled == 0:
      raise ValueError("The supervised variant needs labels, got 0.")
    return LABELED
  if num_labeled == 0:
    return UNLABELED
  if num_labeled == num_train:
    return LABELED
  return MIXED


def _check_mode(mode: str) -> None:
  if mode not in MODES:
    raise ValueError(f"Unknown sampling mode {mode!r}; expected one of "
                     f"{MODES}.")


def labeled_first(mode: str, batch_size: int) -> int:
  """How many leading points of every sample_batch(..., mode) batch are
  labeled (its label_mask reads 1 there and 0 after): B/2, B or 0."""
  _check_mode(mode)
  return {MIXED: batch_size // 2, LABELED: batch_size, UNLABELED: 0}[mode]


def _draw(rng: jax.Array, pool: jax.Array, count: int,
          pool_name: str) -> jax.Array:
  """`count` entries of `pool`, uniformly with replacement."""
  if pool.shape[-1] == 0:  # Static shape, so this check runs at trace time.
    raise ValueError(f"Cannot sample from the empty {pool_name} pool.")
  positions = jax.random.randint(rng, (count,), 0, pool.shape[-1])
  return pool[positions]


def sample_batch(rng: jax.Array, x: jax.Array, y: jax.Array, pools: Pools,
                 batch_size: int, mode: str) -> dict:
  """One training batch.

  Args:
    rng: PRNG key.
    x: [N, ...] training inputs (on device).
    y: [N] or [N, F] training labels (on device).
    pools: index pools of one seed.
    batch_size: static batch size B.
    mode: static; 'mixed' (first B/2 labeled, last B/2 unlabeled),
      'labeled' or 'unlabeled'.

  Returns:
    {'x': float32 [B, ...], 'label': int32 [B] or [B, F],
     'label_mask': float32 [B], 1 where the label may be used}.
  """
  _check_mode(mode)
  if not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
    raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
  if mode == MIXED:
    if batch_size % 2:
      raise ValueError(
          f"batch_size must be even in mixed mode (1:1), got {batch_size}.")
    half = batch_size // 2
    labeled_rng, unlabeled_rng = jax.random.split(rng)
    indices = jnp.concatenate([
        _draw(labeled_rng, pools.labeled, half, LABELED),
        _draw(unlabeled_rng, pools.unlabeled, half, UNLABELED)])
  elif mode == LABELED:
    indices = _draw(rng, pools.labeled, batch_size, LABELED)
  else:
    indices = _draw(rng, pools.unlabeled, batch_size, UNLABELED)
  mask = jnp.arange(batch_size) < labeled_first(mode, batch_size)
  return {
      "x": jnp.asarray(x)[indices].astype(jnp.float32),
      "label": jnp.asarray(y)[indices].astype(jnp.int32),
      "label_mask": mask.astype(jnp.float32),
  }
