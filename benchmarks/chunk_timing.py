"""Flag-free helpers the timing benchmarks share: synthetic MNIST-shaped
data, best-of-n timing, and the trainer's compiled chunk run in a loop.
(Importing a benchmark module would bring its flags along.)"""

import time

import jax
import numpy as np

from ssvae import data as data_lib
from ssvae import train


def min_seconds(fn, repeats: int) -> float:
  """The fastest of `repeats` calls of fn()."""
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    fn()
    times.append(time.perf_counter() - t0)
  return min(times)


def smallest_near_fastest(rates: dict, within: float) -> int:
  """The smallest key (e.g. batch size) whose rate is >= within x the best
  rate (benchmarks/cnn_batch_size.py's pick)."""
  best = max(rates.values())
  return min(k for k, r in rates.items() if r >= within * best)


def synthetic_mnist(num_train: int = 10000) -> data_lib.Dataset:
  rng = np.random.default_rng(0)
  x = (rng.random((num_train, 28, 28, 1)) < 0.2).astype(np.float32)
  y = rng.integers(0, 10, num_train).astype(np.int32)
  split = data_lib.Split(x=x, y=y)
  return data_lib.Dataset(name="synthetic_mnist", train=split, test=split,
                          num_classes=10, likelihood="bernoulli")


class ChunkRunner:
  """Runs chunks of one experiment, continuing from its last state.

  The chunk donates its state, so each run continues training where the
  previous one stopped; only the timing matters here.
  """

  def __init__(self, compiled_chunk, state, pools, keys, x, y):
    self._chunk, self._state = compiled_chunk, state
    self._args = (pools, keys, x, y)

  def run(self, calls: int) -> None:
    """Runs `calls` chunks and waits for them."""
    metrics = None
    for _ in range(calls):
      self._state, metrics = self._chunk(self._state, *self._args)
    jax.block_until_ready(metrics)


def compiled_chunk(exp, steps_per_call: int, state, pools, keys, x, y):
  """train.make_train_chunk, compiled ahead of time for these arguments."""
  return train.make_train_chunk(exp, steps_per_call).lower(
      state, pools, keys, x, y).compile()
