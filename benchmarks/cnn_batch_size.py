r"""Training throughput of the paper's CNN at several batch sizes, in one run.

  python -m benchmarks.cnn_batch_size [--batch_sizes=32,64,128,256]
      [--steps=40] [--rounds=3] [--num_seeds=5]
  Smoke run (tests/benchmarks_test.py):
  python -m benchmarks.cnn_batch_size --batch_sizes=4,8 --steps=4 --rounds=1 \
      --num_seeds=1 --num_train=200

The paper gives no batch size for its CNN tables, so the one they use is
chosen by this measurement. The model is the trainer's CNN path
(configs/mnist_cnn.py: train.make_train_chunk, chunks of 4 unrolled steps,
the library's XLA:CPU flags) with --num_seeds vmapped seeds (a table
cell's 5), on MNIST-shaped synthetic data. Every batch size is compiled
ahead of time and warmed up, then the sizes are timed in alternating
rounds of --steps steps, so all see the same load; the best round counts.

Prints, per batch size, examples/s (all seeds) and its fraction of the
fastest size's, and the rule's pick: the smallest batch within
--within (0.9) of the fastest examples/s, since a smaller batch makes more
parameter updates per CPU second. The last line is
`examples_per_s=<the pick's> batch_size=<the pick> best_batch_size=<the
fastest> best_examples_per_s=<its>`.
"""

from absl import flags
import jax
import jax.numpy as jnp

from benchmarks import chunk_timing
from configs import mnist_cnn
from ssvae import cli
from ssvae import errors
from ssvae import experiment as experiment_lib
from ssvae import rng

_BATCH_SIZES = flags.DEFINE_list("batch_sizes", ["32", "64", "128", "256"],
                                 "Global batch sizes timed (half labeled).")
_STEPS = flags.DEFINE_integer("steps", 40, "Timed steps per round and size.")
_ROUNDS = flags.DEFINE_integer("rounds", 3, "Alternating timed rounds.")
_NUM_SEEDS = flags.DEFINE_integer("num_seeds", 5, "Vmapped seeds.")
_NUM_TRAIN = flags.DEFINE_integer("num_train", 10000,
                                  "Synthetic training examples.")
_WITHIN = flags.DEFINE_float(
    "within", 0.9, "The pick: the smallest batch whose examples/s is at "
    "least this fraction of the fastest batch's.")


def chunk_runner(batch_size: int, num_seeds: int, dataset, devices):
  """(runner, steps per chunk) of the trainer's CNN chunk at this batch."""
  config = mnist_cnn.get_config()
  config.train.batch_size = batch_size
  config.train.num_seeds = num_seeds
  exp = experiment_lib.experiment_from_dataset(config, dataset, devices)
  x, y = jnp.asarray(dataset.train.x), jnp.asarray(dataset.train.y)
  state = experiment_lib.init_train_state(exp)
  keys = rng.seed_keys(exp.seeds, "train")
  pools = jax.tree.map(jnp.asarray, exp.pools)
  steps_per_call = config.train.steps_per_call
  runner = chunk_timing.ChunkRunner(
      chunk_timing.compiled_chunk(exp, steps_per_call, state, pools, keys,
                                  x, y), state, pools, keys, x, y)
  runner.run(1)  # warm-up
  return runner, steps_per_call


def main(_):
  try:
    sizes = sorted({int(b) for b in _BATCH_SIZES.value})
  except ValueError:
    raise errors.UserInputError(
        f"--batch_sizes must be integers, got {_BATCH_SIZES.value}.") from None
  if not sizes or min(sizes) < 2 or any(b % 2 for b in sizes):
    raise errors.UserInputError(
        f"--batch_sizes: give even sizes >= 2 (half of each batch is "
        f"labeled), got {_BATCH_SIZES.value}.")
  if min(_STEPS.value, _ROUNDS.value, _NUM_SEEDS.value) < 1 or not (
      0 < _WITHIN.value <= 1):
    raise errors.UserInputError(
        "--steps, --rounds and --num_seeds must be >= 1 and --within in "
        "(0, 1].")
  devices = jax.devices()[:1]
  dataset = chunk_timing.synthetic_mnist(_NUM_TRAIN.value)
  print(f"device: {devices[0].device_kind} ({devices[0].platform}); CNN, "
        f"{_NUM_SEEDS.value} vmapped seeds; {_ROUNDS.value} alternating "
        f"rounds of {_STEPS.value} steps per batch size, compile excluded",
        flush=True)
  runners = {b: chunk_runner(b, _NUM_SEEDS.value, dataset, devices)
             for b in sizes}
  seconds = {b: [] for b in sizes}
  for _ in range(_ROUNDS.value):
    for b, (runner, steps_per_call) in runners.items():
      calls = max(_STEPS.value // steps_per_call, 1)
      seconds[b].append(chunk_timing.min_seconds(lambda: runner.run(calls), 1)
                        / (calls * steps_per_call))
  rates = {b: b * _NUM_SEEDS.value / min(s) for b, s in seconds.items()}
  best = max(rates, key=rates.get)
  print(f"{'batch':>6s} {'examples/s':>11s} {'of fastest':>10s} "
        f"{'steps/s':>8s}")
  for b in sizes:
    print(f"{b:6d} {rates[b]:11.1f} {rates[b] / rates[best]:10.2f} "
          f"{rates[b] / (b * _NUM_SEEDS.value):8.2f}")
  chosen = chunk_timing.smallest_near_fastest(rates, _WITHIN.value)
  print(f"pick: batch {chosen}, the smallest within {_WITHIN.value:g} of the "
        f"fastest (batch {best})")
  print(f"examples_per_s={rates[chosen]:.1f} batch_size={chosen} "
        f"best_batch_size={best} best_examples_per_s={rates[best]:.1f}")


if __name__ == "__main__":
  cli.run(main)
