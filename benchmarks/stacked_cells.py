r"""What training a table's cells as one program (sweep --stack_cells) buys
over training them one at a time.

  python -m benchmarks.stacked_cells [--num_labels=100,600,1000,3000]
      [--held_out_classes=] [--num_seeds=3] [--steps=200] [--repeats=3]
  Smoke run (tests/benchmarks_test.py):
  python -m benchmarks.stacked_cells --num_labels=20,40 --num_seeds=1 \
      --steps=2 --batch_size=8 --num_train=200 --repeats=1

The cells are the paper's dense model (configs/mnist_dense.py) on
MNIST-shaped synthetic data (benchmarks.train_step), one cell per label
count and per held-out class (semi-supervised, 10% of the normal data
labeled), each of --num_seeds vmapped seeds: Table 3's and Table 5's kinds
of cell. In one run, on one device (so the ratio holds on a noisy machine):
  * stacked: every cell in one experiment (ssvae.stacking.stack), trained
    with train.make_train_chunk as sweep --stack_cells trains it;
  * one at a time: each cell's own chunk, the cells one after the other.
Each program is compiled ahead of time (compile excluded), warmed up with a
chunk, and timed as the best of --repeats. The last line is
`examples_per_s=<stacked, all cells and seeds> one_at_a_time=<that rate>
speedup=<ratio> cells=<C> seeds=<S>`.
"""

from absl import flags
import jax
import jax.numpy as jnp

from benchmarks import chunk_timing
from configs import mnist_dense
from ssvae import cli
from ssvae import errors
from ssvae import experiment as experiment_lib
from ssvae import rng
from ssvae import stacking

_NUM_LABELS = flags.DEFINE_list("num_labels", ["100", "600", "1000", "3000"],
                                "Label counts: one cell each.")
_HELD_OUT = flags.DEFINE_list("held_out_classes", [],
                              "Held-out classes: one anomaly cell each.")
_NUM_SEEDS = flags.DEFINE_integer("num_seeds", 3, "Seeds per cell.")
_STEPS = flags.DEFINE_integer("steps", 200, "Timed steps per cell.")
_BATCH = flags.DEFINE_integer("batch_size", 256, "Batch size.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed repeats (best kept).")
_NUM_TRAIN = flags.DEFINE_integer("num_train", 10000,
                                  "Synthetic training examples.")


def _ints(holder) -> list[int]:
  try:
    return [int(v) for v in holder.value]
  except ValueError:
    raise errors.UserInputError(
        f"--{holder.name} must be integers, got {holder.value}.") from None


def cell_configs(num_labels, held_out_classes, num_seeds: int, steps: int,
                 batch_size: int):
  """One config per cell: label counts, then held-out classes."""
  def config(**data):
    c = mnist_dense.get_config()
    c.train.update(num_seeds=num_seeds, batch_size=batch_size,
                   steps_per_call=min(steps, c.train.steps_per_call))
    c.data.update(data)
    return c
  return ([config(num_labels=n) for n in num_labels]
          + [config(num_labels=-1, label_fraction=0.1, held_out_class=c)
             for c in held_out_classes])


def _runner(exp, x, y, steps_per_call: int):
  state = experiment_lib.init_train_state(exp)
  keys = rng.seed_keys(exp.seeds, "train")
  pools = jax.tree.map(jnp.asarray, exp.pools)
  x, y = jnp.asarray(x), jnp.asarray(y)
  compiled = chunk_timing.compiled_chunk(exp, steps_per_call, state, pools,
                                        keys, x, y)
  return chunk_timing.ChunkRunner(compiled, state, pools, keys, x, y)


def stacked_and_one_at_a_time(configs, dataset, devices, steps: int,
                              repeats: int) -> tuple[float, float, int]:
  """(stacked seconds, one-at-a-time seconds, timed steps per cell)."""
  exps = [experiment_lib.experiment_from_dataset(c, dataset, devices)
          for c in configs]
  steps_per_call = configs[0].train.steps_per_call
  calls = max(steps // steps_per_call, 1)
  stack = stacking.stack(exps)
  stacked = _runner(stack.exp, stack.x, stack.y, steps_per_call)
  stacked.run(1)  # warm-up
  stacked_s = chunk_timing.min_seconds(lambda: stacked.run(calls),
                                               repeats)
  cells = [_runner(e, e.dataset.train.x, e.dataset.train.y, steps_per_call)
           for e in exps]
  for cell in cells:
    cell.run(1)  # warm-up (each cell's program compiles on its own)

  def one_at_a_time():
    for cell in cells:
      cell.run(calls)

  return (stacked_s, chunk_timing.min_seconds(one_at_a_time, repeats),
          calls * steps_per_call)


def main(_):
  num_labels, held_out = _ints(_NUM_LABELS), _ints(_HELD_OUT)
  if len(num_labels) + len(held_out) < 2:
    raise errors.UserInputError(
        "--num_labels and --held_out_classes: name at least two cells.")
  if min(_NUM_SEEDS.value, _STEPS.value, _REPEATS.value) < 1:
    raise errors.UserInputError(
        "--num_seeds, --steps and --repeats must be >= 1.")
  devices = jax.devices()[:1]
  dataset = chunk_timing.synthetic_mnist(_NUM_TRAIN.value)
  configs = cell_configs(num_labels, held_out, _NUM_SEEDS.value, _STEPS.value,
                         _BATCH.value)
  print(f"device: {devices[0].device_kind} ({devices[0].platform}); "
        f"{len(configs)} cells x {_NUM_SEEDS.value} seeds, batch "
        f"{_BATCH.value}; best of {_REPEATS.value}, compile excluded",
        flush=True)
  stacked_s, one_s, timed = stacked_and_one_at_a_time(
      configs, dataset, devices, _STEPS.value, _REPEATS.value)
  examples = len(configs) * _NUM_SEEDS.value * timed * _BATCH.value
  print(f"stacked:      {stacked_s:8.3f} s  {examples / stacked_s:10.1f} "
        "examples/s")
  print(f"one at a time: {one_s:7.3f} s  {examples / one_s:10.1f} examples/s")
  print(f"examples_per_s={examples / stacked_s:.1f} "
        f"one_at_a_time={examples / one_s:.1f} speedup={one_s / stacked_s:.2f}"
        f" cells={len(configs)} seeds={_NUM_SEEDS.value}")


if __name__ == "__main__":
  cli.run(main)
