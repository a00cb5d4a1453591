r"""What training K seeds as one vmapped program buys over K sequential runs.

  python -m benchmarks.vmap_seeds [--families=dense,cnn] [--seed_counts=1,4,10]
      [--dense_steps=200] [--cnn_steps=4] [--repeats=3]
  Short check of the dense model (a couple of minutes):
  python -m benchmarks.vmap_seeds --families=dense --dense_steps=20 --repeats=1
  Smoke run (tests/benchmarks_test.py):
  python -m benchmarks.vmap_seeds --families=dense --seed_counts=2 \
      --dense_steps=2 --dense_batch_size=8 --num_train=200 --repeats=1

For each model family and K, on one device and in one run (so the ratios
hold on a noisy machine):
  * vmapped: one Experiment with config.train.num_seeds=K, trained with
    train.make_train_chunk (a lax.scan of steps_per_call steps, batches
    sampled on device, vmapped over seeds);
  * sequential: the same K seeds one after the other, each a num_seeds=1
    chunk of the same config, started from that seed's copy of the vmapped
    initial state (a seed trains identically alone or vmapped, so both do
    the same work).
Each program is compiled ahead of time (compile excluded) and warmed up with
one chunk, then timed as the best of --repeats. Data: MNIST-shaped synthetic
(benchmarks.train_step); models: the paper's dense model
(configs/mnist_dense.py, batch 256) and the CNN (configs/mnist_cnn.py, batch
128). Prints a table with `speedup = sequential_time / vmapped_time` per K;
the last line is `examples_per_s=<vmapped, all seeds> speedup=<that ratio>
family=<name> seeds=<K>` for the largest K of the first family.

The CNN is slow on XLA:CPU inside make_train_chunk: convolutions in a
lax.scan (a while loop) run far slower than the same step outside one
(jax-ml/jax#12868); keep --cnn_steps small on CPU.
"""


from absl import flags
import jax
import jax.numpy as jnp

from benchmarks import chunk_timing
from configs import mnist_cnn
from configs import mnist_dense
from ssvae import cli
from ssvae import errors
from ssvae import experiment as experiment_lib
from ssvae import rng

_FAMILIES = flags.DEFINE_list("families", ["dense", "cnn"],
                              "Model families to time: dense, cnn.")
_SEED_COUNTS = flags.DEFINE_list("seed_counts", ["1", "4", "10"],
                                 "Numbers of seeds K to compare.")
_DENSE_STEPS = flags.DEFINE_integer("dense_steps", 200,
                                    "Timed steps per seed, dense model.")
_CNN_STEPS = flags.DEFINE_integer("cnn_steps", 4,
                                  "Timed steps per seed, CNN model.")
_DENSE_BATCH = flags.DEFINE_integer("dense_batch_size", 256,
                                    "Batch size of the dense model.")
_CNN_BATCH = flags.DEFINE_integer("cnn_batch_size", 128,
                                  "Batch size of the CNN model.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed repeats (best is kept).")
_NUM_TRAIN = flags.DEFINE_integer("num_train", 10000,
                                  "Synthetic training examples.")

_CONFIGS = {"dense": mnist_dense.get_config, "cnn": mnist_cnn.get_config}


def family_config(family: str, num_steps: int, num_seeds: int,
                  batch_size: int):
  """The family's paper config; one chunk is at most its steps_per_call."""
  config = _CONFIGS[family]()
  config.train.num_seeds = num_seeds
  config.train.batch_size = batch_size
  config.train.steps_per_call = min(num_steps, config.train.steps_per_call)
  return config


def vmapped_and_sequential(family: str, num_seeds: int, num_steps: int,
                           batch_size: int, dataset, devices, repeats: int):
  """(vmapped seconds, sequential seconds, timed steps per seed)."""
  config = family_config(family, num_steps, num_seeds, batch_size)
  steps_per_call = config.train.steps_per_call
  calls = max(num_steps // steps_per_call, 1)
  x, y = jnp.asarray(dataset.train.x), jnp.asarray(dataset.train.y)

  exp = experiment_lib.experiment_from_dataset(config, dataset, devices)
  state = experiment_lib.init_train_state(exp)
  keys = rng.seed_keys(exp.seeds, "train")
  pools = jax.tree.map(jnp.asarray, exp.pools)
  # Per-seed copies of the same start, taken before the vmapped chunk
  # donates (deletes) `state` (with K=1 a plain slice would alias it).
  one_of = lambda tree, i: jax.tree.map(
      lambda a: jnp.array(a[i:i + 1], copy=True), tree)
  seed_args = [(one_of(state, i), one_of(pools, i), one_of(keys, i))
               for i in range(num_seeds)]

  vmapped = chunk_timing.ChunkRunner(
      chunk_timing.compiled_chunk(exp, steps_per_call, state, pools, keys, x, y),
      state, pools, keys, x, y)
  vmapped.run(1)  # warm-up
  vmapped_s = chunk_timing.min_seconds(lambda: vmapped.run(calls), repeats)

  single_exp = experiment_lib.experiment_from_dataset(
      family_config(family, num_steps, 1, batch_size), dataset, devices)
  single_chunk = chunk_timing.compiled_chunk(single_exp, steps_per_call, *seed_args[0],
                                 x, y)
  runners = [chunk_timing.ChunkRunner(single_chunk, *args, x, y) for args in seed_args]
  runners[0].run(1)  # warm-up

  def sequential():
    for runner in runners:  # one seed finishes before the next starts
      runner.run(calls)

  return vmapped_s, chunk_timing.min_seconds(sequential, repeats), calls * steps_per_call


def main(_):
  unknown = sorted(set(_FAMILIES.value) - set(_CONFIGS))
  if not _FAMILIES.value:
    raise errors.UserInputError("--families: name at least one family.")
  if unknown:
    raise errors.UserInputError(
        f"--families: unknown {unknown}; valid: "
        f"{sorted(_CONFIGS)}.")
  try:
    seed_counts = [int(k) for k in _SEED_COUNTS.value]
  except ValueError:
    raise errors.UserInputError(
        f"--seed_counts must be integers, got "
        f"{_SEED_COUNTS.value}.") from None
  if min(seed_counts) < 1 or _REPEATS.value < 1:
    raise errors.UserInputError("--seed_counts and --repeats must be >= 1.")
  devices = jax.devices()[:1]
  dataset = chunk_timing.synthetic_mnist(_NUM_TRAIN.value)
  steps = {"dense": _DENSE_STEPS.value, "cnn": _CNN_STEPS.value}
  batch = {"dense": _DENSE_BATCH.value, "cnn": _CNN_BATCH.value}
  print(f"device: {devices[0].device_kind} ({devices[0].platform}); "
        f"best of {_REPEATS.value}, compile excluded", flush=True)
  header = (f"{'family':<7} {'batch':>5} {'steps':>5} {'K':>3} "
            f"{'vmapped_s':>10} {'sequential_s':>12} {'seed-steps/s':>12} "
            f"{'speedup':>8}")
  print(header)
  print("-" * len(header), flush=True)
  summary = None
  for family in _FAMILIES.value:
    for k in seed_counts:
      vmapped_s, sequential_s, timed_steps = vmapped_and_sequential(
          family, k, steps[family], batch[family], dataset, devices,
          _REPEATS.value)
      print(f"{family:<7} {batch[family]:>5} {timed_steps:>5} {k:>3} "
            f"{vmapped_s:>10.3f} {sequential_s:>12.3f} "
            f"{k * timed_steps / vmapped_s:>12.1f} "
            f"{sequential_s / vmapped_s:>8.2f}", flush=True)
      if family == _FAMILIES.value[0] and k == max(seed_counts):
        summary = (f"examples_per_s="
                   f"{k * timed_steps * batch[family] / vmapped_s:.1f} "
                   f"speedup={sequential_s / vmapped_s:.2f} "
                   f"family={family} seeds={k}")
  print(summary)


if __name__ == "__main__":
  cli.run(main)
