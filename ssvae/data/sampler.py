"""The paper's batch sampler, on device.

Semi-supervised batches are half labeled, half unlabeled (1:1, the paper's;
`labeled_fraction` < 0.5 shows each labeled point less often). Both parts
are drawn uniformly with replacement from their pools, so a pool of 100
labeled points is simply up-sampled. Pools are a pytree: stacking one per
seed along a leading axis lets `jax.vmap` sample for all seeds at once.
`mode` and `batch_size` are static Python values.
"""

from typing import Optional

import flax
import jax
import jax.numpy as jnp
import numpy as np

from ssvae import model_spec

MIXED = "mixed"
LABELED = "labeled"
UNLABELED = "unlabeled"
MODES = (MIXED, LABELED, UNLABELED)
PAPER_LABELED_FRACTION = 0.5  # 1:1 labeled:unlabeled


@flax.struct.dataclass
class Pools:
  """Indices into the training split.

  labeled: int32 [L] points whose labels are used.
  unlabeled: int32 [U] points used without labels.
  labeled_size, unlabeled_size: None (the default): every entry of the pool
    is drawn from. Else int32 scalars: only the first `size` entries are,
    the rest is padding. Runs stacked into one program (ssvae.stacking) pad
    pools of different sizes to one shape; a draw from a padded pool equals
    the draw from the unpadded one.
  """
  labeled: jax.Array
  unlabeled: jax.Array
  labeled_size: Optional[jax.Array] = None
  unlabeled_size: Optional[jax.Array] = None


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


def labeled_points_per_batch(batch_size: int, labeled_fraction: float) -> int:
  """batch_size * labeled_fraction, which must be a whole number in
  1..batch_size - 1 (a mixed batch holds both kinds)."""
  count = batch_size * labeled_fraction
  if not (abs(count - round(count)) < 1e-6 and 1 <= round(count) < batch_size):
    raise ValueError(
        f"A mixed batch of {batch_size} with labeled fraction "
        f"{labeled_fraction} would hold {count:g} labeled points; it must "
        f"be a whole number in 1..{batch_size - 1}.")
  return int(round(count))


def labeled_first(mode: str, batch_size: int,
                  labeled_fraction: float = PAPER_LABELED_FRACTION) -> int:
  """How many leading points of every sample_batch(..., mode) batch are
  labeled (its label_mask reads 1 there and 0 after): batch_size *
  labeled_fraction when mixed (B/2 by default), B or 0."""
  _check_mode(mode)
  if mode == MIXED:
    return labeled_points_per_batch(batch_size, labeled_fraction)
  return {LABELED: batch_size, UNLABELED: 0}[mode]


def _draw(rng: jax.Array, pool: jax.Array, count: int, pool_name: str,
          size: Optional[jax.Array] = None) -> jax.Array:
  """`count` entries of `pool` (of its first `size`), uniformly with
  replacement. A traced `size` draws the same positions as the static
  length would."""
  if pool.shape[-1] == 0:  # Static shape, so this check runs at trace time.
    raise ValueError(f"Cannot sample from the empty {pool_name} pool.")
  positions = jax.random.randint(rng, (count,), 0,
                                 pool.shape[-1] if size is None else size)
  return pool[positions]


def sample_batch(rng: jax.Array, x: jax.Array, y: jax.Array, pools: Pools,
                 batch_size: int, mode: str,
                 labeled_fraction: float = PAPER_LABELED_FRACTION) -> dict:
  """One training batch.

  Args:
    rng: PRNG key.
    x: [N, ...] training inputs (on device).
    y: [N] or [N, F] training labels (on device).
    pools: index pools of one seed.
    batch_size: static batch size B.
    mode: static; 'mixed' (first B * labeled_fraction labeled, the rest
      unlabeled), 'labeled' or 'unlabeled'.
    labeled_fraction: static; the labeled share of a mixed batch (the
      paper's 0.5 by default; ignored by the other modes).

  Returns:
    {'x': float32 [B, ...], 'label': int32 [B] or [B, F],
     'label_mask': float32 [B], 1 where the label may be used}.
  """
  _check_mode(mode)
  if not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
    raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
  if mode == MIXED:
    if labeled_fraction == PAPER_LABELED_FRACTION and batch_size % 2:
      raise ValueError(
          f"batch_size must be even in mixed mode (1:1), got {batch_size}.")
    num_labeled = labeled_points_per_batch(batch_size, labeled_fraction)
    labeled_rng, unlabeled_rng = jax.random.split(rng)
    indices = jnp.concatenate([
        _draw(labeled_rng, pools.labeled, num_labeled, LABELED,
              pools.labeled_size),
        _draw(unlabeled_rng, pools.unlabeled, batch_size - num_labeled,
              UNLABELED, pools.unlabeled_size)])
  elif mode == LABELED:
    indices = _draw(rng, pools.labeled, batch_size, LABELED,
                    pools.labeled_size)
  else:
    indices = _draw(rng, pools.unlabeled, batch_size, UNLABELED,
                    pools.unlabeled_size)
  num_first = labeled_first(mode, batch_size, labeled_fraction)
  mask = jnp.arange(batch_size) < num_first
  return {
      "x": jnp.asarray(x)[indices].astype(jnp.float32),
      "label": jnp.asarray(y)[indices].astype(jnp.int32),
      "label_mask": mask.astype(jnp.float32),
  }
