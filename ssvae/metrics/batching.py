"""Applying a function to an array in fixed-size batches (one compile)."""

from typing import Callable, Optional

import jax
import numpy as np

from ssvae import progress as progress_lib


def map_in_batches(fn: Callable, x: np.ndarray, batch_size: int, *,
                   rng: Optional[jax.Array] = None, progress: bool = False,
                   output_ndim: Optional[int] = None) -> np.ndarray:
  """fn over x in batches; the [b, ...] outputs concatenated along axis 0.

  Every call sees exactly batch_size rows (the last batch is padded by
  repeating its final row and the padding's outputs are dropped), so a
  jitted fn compiles once. With rng, fn(batch, key) is called with key =
  fold_in(rng, batch_index); without, fn(batch). output_ndim, if given, is
  the number of axes each output must have (1: one score per row).
  progress shows a progress bar (stderr) counting examples.
  """
  if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
    raise ValueError(f"batch_size must be a positive integer, got "
                     f"{batch_size!r}.")
  num_examples = len(x)
  if num_examples == 0:
    raise ValueError("x is empty: nothing to compute.")
  batch_size = min(batch_size, num_examples)
  outputs = []
  bar = (progress_lib.Progress(num_examples, desc="scoring", unit="example",
                               examples_per_unit=1) if progress else None)
  for index, start in enumerate(range(0, num_examples, batch_size)):
    batch = np.asarray(x[start:start + batch_size])
    num_real = len(batch)
    if num_real < batch_size:
      batch = np.concatenate(
          [batch, np.repeat(batch[-1:], batch_size - num_real, axis=0)])
    out = np.asarray(fn(batch) if rng is None
                     else fn(batch, jax.random.fold_in(rng, index)))
    if out.shape[:1] != (batch_size,) or (
        output_ndim is not None and out.ndim != output_ndim):
      expected = (f"({batch_size},)" if output_ndim == 1
                  else f"({batch_size}, ...)")
      raise ValueError(f"fn returned shape {out.shape} for a batch of "
                       f"{batch_size}; expected {expected}.")
    outputs.append(out[:num_real])
    if bar is not None:
      bar.update(num_real)
  if bar is not None:
    bar.close()
  return np.concatenate(outputs)
