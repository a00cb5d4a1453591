r"""Training-step cost of Kingma et al.'s M2 vs the paper's model.

  python -m benchmarks.m2_step [--chunk_steps=20] [--repeats=3]
      [--latent_dim=10] [--batch_size=256]

Both on the paper's dense sizes (configs/mnist_dense.py: 784-1024-1024,
batch 256 = 128 labeled + 128 unlabeled, one seed, one device), MNIST-shaped
synthetic data (benchmarks.train_step), each a train.make_train_chunk of
--chunk_steps steps (batches sampled on device), compiled and warmed up first.
M2 runs every point's z-encoder tail and decoder once per class (10 times),
the labeled half included (ssvae.models.common.m2_forward). The two models
are timed alternately, --repeats times each, so both see the same load;
per repeat it prints wall and process CPU seconds per step, then the median
M2 / paper ratios.
"""

import statistics
import time

from absl import flags
import jax
import jax.numpy as jnp

from benchmarks import train_step as train_step_benchmark
from configs import mnist_dense
from ssvae import cli
from ssvae import errors
from ssvae import rng
from ssvae import train

_STEPS = flags.DEFINE_integer("chunk_steps", 20, "Steps per timed chunk.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Alternating timed repeats.")
_LATENT = flags.DEFINE_integer("latent_dim", 10, "latent_dim of both models.")
# --batch_size (global batch size, default 256) is benchmarks.train_step's.


def chunk_runner(variant: str):
  """A compiled, warmed-up `run()` that trains one chunk of --chunk_steps
  steps."""
  config = mnist_dense.get_config()
  config.model.variant = variant
  config.model.latent_dim = _LATENT.value
  config.train.batch_size = flags.FLAGS.batch_size
  exp = train.experiment_from_dataset(
      config, train_step_benchmark.synthetic_mnist(), jax.devices()[:1])
  chunk = train.make_train_chunk(exp, _STEPS.value)
  holder = {"state": train.init_train_state(exp)}
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
  runners = {"paper": chunk_runner("semi_supervised"), "m2": chunk_runner("m2")}
  times = {name: [] for name in runners}
  for repeat in range(_REPEATS.value):
    for name, run in runners.items():
      wall, cpu = seconds_per_step(run)
      times[name].append((wall, cpu))
      print(f"repeat {repeat} {name:5s}: {wall * 1e3:8.1f} ms/step wall, "
            f"{cpu * 1e3:8.1f} ms/step CPU")
  for index, what in ((0, "wall"), (1, "CPU")):
    paper = statistics.median(t[index] for t in times["paper"])
    m2 = statistics.median(t[index] for t in times["m2"])
    print(f"median {what}: paper {paper * 1e3:.1f} ms/step, m2 "
          f"{m2 * 1e3:.1f} ms/step, m2/paper = {m2 / paper:.2f}")


if __name__ == "__main__":
  cli.run(main)
