r"""Training-step cost of Kingma et al.'s M2 vs the paper's model.

  python -m benchmarks.m2_step [--chunk_steps=20] [--repeats=3]
      [--latent_dim=10] [--batch_size=256]
  Smoke run (tests/benchmarks_test.py):
  python -m benchmarks.m2_step --chunk_steps=2 --repeats=1 --batch_size=8

Both on the paper's dense sizes (configs/mnist_dense.py: 784-1024-1024,
batch 256 = 128 labeled + 128 unlabeled, one seed, one device), MNIST-shaped
synthetic data (benchmarks.train_step), each a train.make_train_chunk of
--chunk_steps steps (batches sampled on device), compiled and warmed up first.
M2 runs the z-encoder tail and decoder of every unlabeled point once per
class (10 times) and of every labeled point once, at its label
(ssvae.models.common.m2_labeled_first, the trainer's path); "m2-all" is M2 as
it was first written, every point enumerated, the labeled half included
(common.m2_forward). The models are timed alternately, --repeats times each,
so all see the same load; per repeat it prints wall and process CPU seconds
per step, then the median ratios to the paper's model. The last line is
`examples_per_s=<M2 (the trainer's path)> paper_examples_per_s=<paper model>
m2_all_examples_per_s=<m2-all> m2_over_paper=<wall time ratio>`, all from
the median wall seconds per step (examples/s = --batch_size / that).
"""

import contextlib
import statistics
import time
from unittest import mock

from absl import flags
import jax
import jax.numpy as jnp

from benchmarks import chunk_timing
from configs import mnist_dense
from ssvae import cli
from ssvae import errors
from ssvae import experiment as experiment_lib
from ssvae import rng
from ssvae import train

_STEPS = flags.DEFINE_integer("chunk_steps", 20, "Steps per timed chunk.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Alternating timed repeats.")
_LATENT = flags.DEFINE_integer("latent_dim", 10, "latent_dim of both models.")
# --batch_size (global batch size, default 256) is benchmarks.train_step's.


def chunk_runner(variant: str, enumerate_labeled: bool = False):
  """A compiled, warmed-up `run()` that trains one chunk of --chunk_steps
  steps. enumerate_labeled: m2's step as if the batch layout were unknown
  (labeled_first=0: every point enumerated)."""
  config = mnist_dense.get_config()
  config.model.variant = variant
  config.model.latent_dim = _LATENT.value
  config.train.batch_size = flags.FLAGS.batch_size
  exp = experiment_lib.experiment_from_dataset(
      config, chunk_timing.synthetic_mnist(), jax.devices()[:1])
  layout = (mock.patch.object(train.data_lib, "labeled_first",
                             lambda *_: 0)
            if enumerate_labeled else contextlib.nullcontext())
  with layout:  # bound into the step when the chunk is built
    chunk = train.make_train_chunk(exp, _STEPS.value)
  holder = {"state": experiment_lib.init_train_state(exp)}
  keys = rng.seed_keys(exp.seeds, "train")
  x, y = jnp.asarray(exp.dataset.train.x), jnp.asarray(exp.dataset.train.y)
  pools = jax.tree.map(jnp.asarray, exp.pools)

  def run():
    holder["state"], metrics = chunk(holder["state"], pools, keys, x, y)
    jax.block_until_ready(metrics)

  run()  # compile and warm up
  return run


def seconds_per_step(run) -> tuple[float, float]:
  wall, cpu = time.perf_counter(), time.process_time()
  run()
  return ((time.perf_counter() - wall) / _STEPS.value,
          (time.process_time() - cpu) / _STEPS.value)


def main(_):
  if _STEPS.value < 1 or _REPEATS.value < 1:
    raise errors.UserInputError("--chunk_steps and --repeats must be >= 1.")
  runners = {"paper": chunk_runner("semi_supervised"),
             "m2": chunk_runner("m2"),
             "m2-all": chunk_runner("m2", enumerate_labeled=True)}
  times = {name: [] for name in runners}
  for repeat in range(_REPEATS.value):
    for name, run in runners.items():
      wall, cpu = seconds_per_step(run)
      times[name].append((wall, cpu))
      print(f"repeat {repeat} {name:5s}: {wall * 1e3:8.1f} ms/step wall, "
            f"{cpu * 1e3:8.1f} ms/step CPU")
  batch = flags.FLAGS.batch_size
  median_wall = {name: statistics.median(t[0] for t in times[name])
                 for name in runners}
  for index, what in ((0, "wall"), (1, "CPU")):
    median = {name: statistics.median(t[index] for t in times[name])
              for name in runners}
    print(f"median {what} ms/step: " + ", ".join(
        f"{name} {value * 1e3:.1f}" for name, value in median.items())
          + f"; m2/paper = {median['m2'] / median['paper']:.2f}, "
          f"m2-all/paper = {median['m2-all'] / median['paper']:.2f}, "
          f"m2/m2-all = {median['m2'] / median['m2-all']:.2f}")
  print(f"examples_per_s={batch / median_wall['m2']:.1f} "
        f"paper_examples_per_s={batch / median_wall['paper']:.1f} "
        f"m2_all_examples_per_s={batch / median_wall['m2-all']:.1f} "
        f"m2_over_paper={median_wall['m2'] / median_wall['paper']:.2f}")


if __name__ == "__main__":
  cli.run(main)
