r"""Training throughput of the dense semi-supervised model vs the matmul peak.

  python -m benchmarks.train_step [--batch_size=256] [--steps=400]
      [--steps_per_call=100] [--matmul_size=2048]
  Smoke run (tests/benchmarks_test.py):
  python -m benchmarks.train_step --batch_size=8 --steps=4 --steps_per_call=4 \
      --matmul_size=64

(--family=cnn and --family=multihead_cnn time the convolutional models, old
path against new: benchmarks/conv_step.py, which times its matmul peak at
--matmul_size too.)

Measured in one run, so the ratios hold on a noisy machine:
  1. the float32 matmul peak of this machine (square matmuls in a jitted loop);
  2. examples/s of the paper's dense model (784-1024-1024-{2,2,10}) at batch
     256 (128 labeled + 128 unlabeled), batches sampled on device inside a
     lax.scan of `steps_per_call` steps;
  3. the same with batches sampled on the host and fed every step, to show
     what keeping the data on device buys (a quarter of the steps, at
     least one).
With --torch_python=PY (a Python with torch), 2. is then timed against
PyTorch's eager step of the same model (benchmarks/torch_step.py) in
alternating rounds of --steps steps (conv_step's --rounds).
FLOPs per example are counted by hand from the layer shapes (matmuls only,
forward x 3 for forward + backward) and cross-checked with XLA's cost model.
The last line prints `examples_per_s=<2.: the paper's model, examples/s>
peak_fraction=<2.'s FLOP rate / 1.>` (and `torch_ratio=<2. / PyTorch's, best
round>`).
"""

import statistics

from absl import flags
import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import chunk_timing
from benchmarks import conv_step
from configs import default
from configs import mnist_dense
from ssvae import cli
from ssvae import data as data_lib
from ssvae import experiment as experiment_lib
from ssvae import rng
from ssvae import train

_BATCH = flags.DEFINE_integer("batch_size", 256, "Global batch size.")
_STEPS = flags.DEFINE_integer("steps", 400, "Timed training steps.")
_STEPS_PER_CALL = flags.DEFINE_integer("steps_per_call", 100,
                                       "Steps fused in one lax.scan.")
_MATMUL = flags.DEFINE_integer("matmul_size", 2048, "Peak matmul size.")
_FAMILY = flags.DEFINE_enum(
    "family", "dense", ("dense",) + conv_step.FAMILIES,
    "dense: this module's benchmark; cnn, multihead_cnn: conv_step's.")


def best_time(fn, repeats: int) -> float:
  fn()  # compile and warm up
  return chunk_timing.min_seconds(fn, repeats)


def matmul_peak_flops(n: int) -> float:
  a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32)
  b = jax.random.normal(jax.random.PRNGKey(1), (n, n), jnp.float32)
  reps = 10
  @jax.jit
  def loop(a, b):
    return jax.lax.fori_loop(0, reps, lambda i, c: (c @ b) * 1e-3, a)
  seconds = best_time(lambda: loop(a, b).block_until_ready(), 5)
  return 2 * n**3 * reps / seconds


def dense_model_flops_per_example(input_dim: int, hidden: tuple,
                                  latent: int, classes: int) -> int:
  """Matmul FLOPs of forward + backward for one example.

  Backward costs twice the forward (input and weight gradients), except that
  the first layer needs no gradient with respect to the data.
  """
  enc = [input_dim, *hidden]
  dec = [latent + classes, *hidden[::-1], input_dim]
  macs = sum(a * b for a, b in zip(enc[:-1], enc[1:]))
  macs += hidden[-1] * (2 * latent + classes)  # mu, logvar, y heads
  macs += sum(a * b for a, b in zip(dec[:-1], dec[1:]))
  return 2 * (3 * macs - input_dim * hidden[0])


def on_device_examples_per_s(exp, steps_per_call: int, calls: int) -> float:
  """Batches sampled inside a jitted lax.scan of steps_per_call steps."""
  return calls * steps_per_call * exp.config.train.batch_size / best_time(
      on_device_runner(exp, steps_per_call, calls), 3)


def on_device_runner(exp, steps_per_call: int, calls: int):
  """run(): `calls` chunks of the trainer's scan of steps_per_call steps,
  batches sampled on device, waited for."""
  chunk = train.make_train_chunk(exp, steps_per_call)
  holder = {"state": experiment_lib.init_train_state(exp)}
  keys = rng.seed_keys(exp.seeds, "train")
  x, y = jnp.asarray(exp.dataset.train.x), jnp.asarray(exp.dataset.train.y)
  pools = jax.tree.map(jnp.asarray, exp.pools)

  def run():
    for _ in range(calls):
      holder["state"], metrics = chunk(holder["state"], pools, keys, x, y)
    jax.block_until_ready(metrics)

  return run


def torch_comparison(exp, steps_per_call: int, calls: int,
                     matmul_size: int) -> float:
  """Ours (the trainer's chunk, on-device sampling) against PyTorch's eager
  step of the same model (benchmarks/torch_step.py, run by --torch_python),
  in alternating rounds of the same steps; prints both, returns the best
  examples/s ratio ours / PyTorch's."""
  batch, steps = exp.config.train.batch_size, steps_per_call * calls
  ours = on_device_runner(exp, steps_per_call, calls)
  ours()  # compile and warm up
  worker = conv_step.Worker("dense", conv_step.TORCH, matmul_size, batch)
  times = {"ssvae": [], "torch": []}
  try:
    for _ in range(conv_step.ROUNDS.value):
      times["ssvae"].append(chunk_timing.min_seconds(ours, 1) / steps)
      times["torch"].append(worker.time("eager", steps))
  finally:
    worker.close()
  print(f"vs PyTorch ({worker.info['about']}), {conv_step.ROUNDS.value} "
        f"alternating rounds of {steps} steps, batch {batch}:")
  for name, seconds in times.items():
    rounds = " ".join(f"{batch / t:.0f}" for t in seconds)
    print(f"  {name:6s} best {batch / min(seconds):8.1f} ex/s, median "
          f"{batch / statistics.median(seconds):8.1f}   per round: {rounds}")
  best = min(times["torch"]) / min(times["ssvae"])
  median = statistics.median(times["torch"]) / statistics.median(
      times["ssvae"])
  print(f"ssvae / PyTorch eager: {best:.2f}x (best), {median:.2f}x (median)")
  return best


def host_fed_examples_per_s(exp, num_steps: int) -> float:
  """One jitted step per batch; the batch is drawn by numpy and sent."""
  step = train.make_parallel_train_step(exp)
  holder = {"state": experiment_lib.init_train_state(exp)}
  keys = rng.seed_keys(exp.seeds, "train")
  x, y = exp.dataset.train.x, exp.dataset.train.y
  labeled, unlabeled = exp.pools.labeled[0], exp.pools.unlabeled[0]
  half = exp.config.train.batch_size // 2
  mask = np.concatenate([np.ones(half), np.zeros(half)]).astype(np.float32)
  draws = np.random.default_rng(0)

  def run():
    for _ in range(num_steps):
      idx = np.concatenate([draws.choice(labeled, half),
                            draws.choice(unlabeled, half)])
      batch = {"x": x[idx][None], "label": y[idx][None],
               "label_mask": mask[None]}
      holder["state"], metrics = step(holder["state"], batch, keys)
    jax.block_until_ready(metrics)

  return num_steps * exp.config.train.batch_size / best_time(run, 3)


def xla_flops_per_example(exp) -> float:
  state = experiment_lib.init_train_state(exp)
  keys = rng.seed_keys(exp.seeds, "train")
  batch = jax.tree.map(lambda a: a[None], data_lib.sample_batch(
      keys[0], jnp.asarray(exp.dataset.train.x),
      jnp.asarray(exp.dataset.train.y),
      jax.tree.map(lambda a: jnp.asarray(a[0]), exp.pools),
      exp.config.train.batch_size, exp.sampling_mode))
  cost = train.make_parallel_train_step(exp).lower(
      state, batch, keys).compile().cost_analysis()
  cost = cost[0] if isinstance(cost, list) else cost
  return cost["flops"] / exp.config.train.batch_size


def main(_):
  if _FAMILY.value != "dense":
    conv_step.main(_FAMILY.value, _MATMUL.value)
    return
  devices = jax.devices()[:1]
  n = _STEPS_PER_CALL.value
  calls = max(_STEPS.value // n, 1)

  peak = matmul_peak_flops(_MATMUL.value)
  print(f"float32 matmul peak ({_MATMUL.value}^2): {peak / 1e9:.1f} GFLOP/s")

  config = mnist_dense.get_config()
  config.train.batch_size = _BATCH.value
  exp = experiment_lib.experiment_from_dataset(config, chunk_timing.synthetic_mnist(),
                                               devices)
  flops = dense_model_flops_per_example(
      784, tuple(config.model.hidden_sizes), config.model.latent_dim, 10)
  print(f"FLOPs/example: {flops / 1e6:.2f} M by hand (matmuls), "
        f"{xla_flops_per_example(exp) / 1e6:.2f} M by XLA's cost model")
  examples_per_s = on_device_examples_per_s(exp, n, calls)
  host = host_fed_examples_per_s(exp, max(calls * n // 4, 1))
  achieved = examples_per_s * flops
  print(f"paper dense model, batch {_BATCH.value}: {examples_per_s:.0f} "
        f"examples/s on-device sampling, {host:.0f} host-fed "
        f"(ratio {examples_per_s / host:.2f}); {achieved / 1e9:.1f} GFLOP/s")

  # A small model, where per-step dispatch matters more than the matmuls.
  small = default.get_config()
  small_exp = experiment_lib.experiment_from_dataset(
      small, data_lib.load_dataset(small.data), devices)
  small_device = on_device_examples_per_s(small_exp, n, calls)
  small_host = host_fed_examples_per_s(small_exp, max(calls * n // 4, 1))
  print(f"default config (digits, 256-256): {small_device:.0f} examples/s "
        f"on-device sampling, {small_host:.0f} host-fed "
        f"(ratio {small_device / small_host:.2f})")
  torch_ratio = (torch_comparison(exp, n, calls, _MATMUL.value)
                 if conv_step.TORCH_PYTHON.value else None)
  print(f"examples_per_s={examples_per_s:.1f} "
        f"peak_fraction={achieved / peak:.3f}"
        + (f" torch_ratio={torch_ratio:.2f}" if torch_ratio else ""))


if __name__ == "__main__":
  cli.run(main)
