r"""Training throughput of the convolutional models, old path vs new, alternating.

  python -m benchmarks.train_step --family=cnn [--rounds=5] [--conv_steps=20]
      [--conv_batch_size=64] [--chunks=1,2,4,10] [--matmul_size=2048]
  python -m benchmarks.train_step --family=multihead_cnn
  Smoke run (compiles least; tests/benchmarks_test.py):
  python -m benchmarks.train_step --family=cnn --rounds=1 --conv_steps=1 \
      --conv_batch_size=2 --conv_steps_per_call=1 --matmul_size=64

The paper's semi-supervised CNN (configs/mnist_cnn.py: Table 14 layers,
BatchNorm, one dense layer of 512, Bernoulli likelihood, RMSprop with
momentum) or the dSprites multi-head CNN (configs/dsprites_multihead.py) at
batch 64, half of each batch labeled, one seed, on MNIST- or dSprites-shaped
synthetic data. Two paths, each in its own worker process (XLA reads its
flags once per process):

  old: XLA's default flags, conv_impl='xla' (flax's layers), and the
       trainer's chunk before the CPU speed-up: lax.scan over
       OLD_STEPS_PER_CALL steps with scan_unroll=True;
  new: the trainer's path: the library's XLA:CPU flags (ssvae/xla_flags.py),
       conv_impl='auto' (ssvae/models/fast_conv.py's forms on the CPU,
       flax's layers on an accelerator, where the flags are not set either)
       and the config's steps_per_call / scan_unroll through
       train.make_train_chunk.

Each path is timed as a plain jit of one train step on a fixed batch ("jit")
and as the scanned chunk the trainer runs, batches sampled on device
("chunk"). The parent alternates: every round times each (path, mode) for
--conv_steps steps while the other worker waits, so all see the same load.
--chunks adds the new path's chunk at other sizes (fully unrolled) to choose
steps_per_call; --conv_steps_per_call=N times both paths' chunk at N steps
instead of their own (it compiles faster; for smoke runs); --ablation adds
the new path less its XLA flags and less its conv forms; --torch_python=PY
adds PyTorch's eager step of the same model (benchmarks/torch_step.py,
NCHW and channels_last) run by PY, a Python with torch (for the dense
model, train_step runs the same worker). Prints best and median examples/s
over the rounds;
the last line is `examples_per_s=<new chunk, best>
old_examples_per_s=<old chunk, best> speedup=<ratio>` (and
`torch_examples_per_s=<best torch mode>`). The matmul peak is timed at
train_step's --matmul_size (MATMUL_SIZE by default).
"""

import dataclasses
import os
import statistics
import subprocess
import sys
import time

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from benchmarks import worker_protocol
from configs import dsprites_multihead
from configs import mnist_cnn
from ssvae import data as data_lib
from ssvae import experiment as experiment_lib
from ssvae import model_spec
from ssvae import rng
from ssvae import train
from ssvae import xla_flags

FAMILIES = ("cnn", "multihead_cnn")
OLD, NEW = "old", "new"
TORCH = "torch"  # benchmarks/torch_step.py, with --torch_python
# A mode every worker of the old/new/torch paths also times: float32 square
# matmuls of MATMUL_SIZE (its "step" is one matmul; train_step's
# --matmul_size, this by default), the machine's GEMM rate under that
# process's flags, against which the step's FLOP rate is read.
MATMUL, MATMUL_SIZE = "matmul", 2048
# --ablation: the new path less one lever (its chunk is the new one).
NO_FLAGS, NO_FORMS = "new-flags", "new-forms"
PATHS = (OLD, NEW, NO_FLAGS, NO_FORMS)
# The CNN and multi-head configs' chunk before the CPU speed-up (BUILD_NOTES,
# "CNN speed on CPU").
OLD_STEPS_PER_CALL = 10
OLD_SCAN_UNROLL = True
# dSprites factor sizes (shape, scale, orientation, pos_x, pos_y) of the
# downsampled grid the multi-head model trains on.
DSPRITES_FACTOR_SIZES = (3, 6, 10, 16, 16)

ROUNDS = flags.DEFINE_integer("rounds", 5, "Alternating timed rounds.")
_CONV_STEPS = flags.DEFINE_integer(
    "conv_steps", 20, "Steps per round for each path and mode (a chunk "
    "runs ceil(conv_steps / chunk) times).")
_CONV_BATCH = flags.DEFINE_integer("conv_batch_size", 64,
                                   "Batch size of the conv families.")
_CONV_STEPS_PER_CALL = flags.DEFINE_integer(
    "conv_steps_per_call", 0, "Steps of the 'chunk' mode on every path; 0: "
    f"each path's own (old {OLD_STEPS_PER_CALL}, new the config's). A "
    "short chunk compiles faster (smoke runs).")
_CHUNKS = flags.DEFINE_list(
    "chunks", [], "Extra chunk sizes (fully unrolled) timed on the new path.")
_ABLATION = flags.DEFINE_bool(
    "ablation", False, f"Also time the new path without the XLA flags "
    f"({NO_FLAGS}) and with flax's layers ({NO_FORMS}).")
TORCH_PYTHON = flags.DEFINE_string(
    "torch_python", None, "dense and cnn: a Python with torch; adds "
    "PyTorch's eager step of the same model (benchmarks/torch_step.py) as "
    "one more alternating worker.")
_WORKER = flags.DEFINE_enum("worker", None, PATHS,
                            "Internal: run as the worker of one path.")



def base_config(family: str) -> ml_collections.ConfigDict:
  config = (mnist_cnn.get_config() if family == "cnn"
            else dsprites_multihead.get_config())
  config.train.batch_size = _CONV_BATCH.value
  config.train.num_seeds = 1
  config.data.validation_size = 0
  return config


def synthetic(family: str, num_train: int = 2000) -> data_lib.Dataset:
  """Binary images of the family's data set shape with random labels."""
  gen = np.random.default_rng(0)
  if family == "cnn":
    x = (gen.random((num_train, 28, 28, 1)) < 0.2).astype(np.float32)
    y = gen.integers(0, 10, num_train).astype(np.int32)
    split = data_lib.Split(x=x, y=y)
    return data_lib.Dataset(name="synthetic_mnist", train=split, test=split,
                            num_classes=10, likelihood="bernoulli")
  x = (gen.random((num_train, 64, 64, 1)) < 0.1).astype(np.float32)
  y = np.stack([gen.integers(0, n, num_train)
                for n in DSPRITES_FACTOR_SIZES], 1).astype(np.int32)
  split = data_lib.Split(x=x, y=y)
  return data_lib.Dataset(name="synthetic_dsprites", train=split, test=split,
                          num_classes=DSPRITES_FACTOR_SIZES[0],
                          likelihood="bernoulli",
                          factor_sizes=DSPRITES_FACTOR_SIZES)


def lax_scan(body, carry, length, unroll):
  """The trainer's loop before the CPU speed-up: always a lax.scan."""
  return jax.lax.scan(body, carry, None, length=length, unroll=unroll)


def path_settings(family: str, path: str) -> dict:
  config = base_config(family)
  if path == OLD:
    return dict(conv_impl=model_spec.XLA, steps_per_call=OLD_STEPS_PER_CALL,
                scan_unroll=OLD_SCAN_UNROLL, loop="lax.scan")
  return dict(conv_impl=(model_spec.XLA if path == NO_FORMS
                         else model_spec.AUTO),
              steps_per_call=config.train.steps_per_call,
              scan_unroll=config.train.scan_unroll, loop="train.unrolled_scan")


def timed_settings(family: str, path: str) -> dict:
  """path_settings, the chunk at --conv_steps_per_call steps when set."""
  settings = path_settings(family, path)
  if _CONV_STEPS_PER_CALL.value > 0:
    settings["steps_per_call"] = _CONV_STEPS_PER_CALL.value
  return settings


def _runners(family: str, path: str, extra_chunks: list[int]) -> dict:
  """mode -> (run(steps) -> seconds per step, first-call seconds)."""
  settings = timed_settings(family, path)
  if path == OLD:
    train.unrolled_scan = lax_scan
  config = base_config(family)
  config.train.steps_per_call = settings["steps_per_call"]
  config.train.scan_unroll = settings["scan_unroll"]
  config.model.conv_impl = settings["conv_impl"]
  exp = experiment_lib.experiment_from_dataset(config, synthetic(family),
                                      jax.devices()[:1])
  keys = rng.seed_keys(exp.seeds, "train")
  x, y = jnp.asarray(exp.dataset.train.x), jnp.asarray(exp.dataset.train.y)
  pools = jax.tree.map(jnp.asarray, exp.pools)
  batch = jax.tree.map(lambda a: a[None], data_lib.sample_batch(
      keys[0], x, y, jax.tree.map(lambda a: a[0], pools),
      config.train.batch_size, exp.sampling_mode))
  runners = {}

  def add(mode, call, steps_per_call):
    holder = {"state": experiment_lib.init_train_state(exp)}

    def run(steps):
      calls = max(-(-steps // steps_per_call), 1)
      start = time.perf_counter()
      for _ in range(calls):
        holder["state"], metrics = call(holder["state"])
      jax.block_until_ready(metrics)
      return (time.perf_counter() - start) / (calls * steps_per_call)

    start = time.perf_counter()
    run(1)  # compile and warm up
    runners[mode] = (run, time.perf_counter() - start)

  step = train.make_parallel_train_step(exp)
  add("jit", lambda s: step(s, batch, keys), 1)
  chunk = train.make_train_chunk(exp, settings["steps_per_call"])
  add("chunk", lambda s: chunk(s, pools, keys, x, y),
      settings["steps_per_call"])
  for n in extra_chunks:
    exp_n = exp
    if config.train.scan_unroll is not True:
      config_n = ml_collections.ConfigDict(config.to_dict())
      config_n.train.scan_unroll = True
      exp_n = dataclasses.replace(exp, config=config_n)
    chunk_n = train.make_train_chunk(exp_n, n)
    add(f"chunk{n}", lambda s, f=chunk_n: f(s, pools, keys, x, y), n)
  return runners


def matmul_runner(n: int = MATMUL_SIZE):
  """(run(count) -> seconds per n x n matmul, first-call seconds)."""
  a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
  b = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
  reps = 4
  loop = jax.jit(lambda a, b: jax.lax.fori_loop(
      0, reps, lambda i, c: (c @ b) * 1e-3, a))

  def run(count: int) -> float:
    calls = max(-(-count // reps), 1)
    start = time.perf_counter()
    for _ in range(calls):
      out = loop(a, b)
    out.block_until_ready()
    return (time.perf_counter() - start) / (calls * reps)

  start = time.perf_counter()
  run(1)
  return run, time.perf_counter() - start


def cnn_flops_per_example(config) -> float:
  """Hand count of a training step's FLOPs per example of the CNN family
  (28x28x1, configs/mnist_cnn.py's sizes): multiply-adds of every conv,
  transposed conv (k*k per input pixel: no inserted zeros) and dense layer;
  backward twice forward, less the first layer's input gradient."""
  model = config.model
  k2 = model.get("kernel_size", 3) ** 2
  channels = tuple(model.get("conv_channels", (64, 64, 64)))
  strides = tuple(model.get("conv_strides", (1, 1, 2)))
  side, c_in, macs = 28, 1, 0
  first = side * side * k2 * c_in * channels[0]
  for c, stride in zip(channels, strides):
    side = -(-side // stride)
    macs += side * side * k2 * c_in * c
    c_in = c
  flat = side * side * c_in
  hidden = tuple(model.hidden_sizes)
  widths = (flat, *hidden)
  macs += sum(a * b for a, b in zip(widths[:-1], widths[1:]))
  macs += hidden[-1] * (2 * model.latent_dim + 10)
  macs += (model.latent_dim + 10) * flat  # decoder dense
  for c, stride in zip(reversed(channels), strides):
    macs += side * side * k2 * c_in * c  # per input pixel
    side, c_in = side * stride, c
  macs += side * side * k2 * c_in * 1  # output layer to 1 channel
  return 2 * (3 * macs - first)


def worker(family: str, path: str, matmul_size: int) -> None:
  """Serves `time MODE STEPS` requests on stdin until `quit`."""
  extra = [int(n) for n in _CHUNKS.value] if path == NEW else []
  runners = _runners(family, path, extra)
  if path in (OLD, NEW):
    runners[MATMUL] = matmul_runner(matmul_size)
  worker_protocol.serve(
      runners, f"XLA_FLAGS='{os.environ.get('XLA_FLAGS', '')}'")


def worker_env(path: str) -> dict:
  """The environment of `path`'s process: XLA_FLAGS less the library's,
  which the new path's import of ssvae adds back (the old path opts out)."""
  env = dict(os.environ)
  ours = {f.split("=")[0] for f in xla_flags.CPU_FLAGS}
  kept = [f for f in env.get("XLA_FLAGS", "").split()
          if f.split("=")[0] not in ours]
  env.pop(xla_flags.OPT_OUT_VARIABLE, None)
  if path in (OLD, NO_FLAGS):
    env[xla_flags.OPT_OUT_VARIABLE] = "0"
  env["XLA_FLAGS"] = " ".join(kept)  # else the worker's import adds ours
  return env


class Worker:
  """A benchmark worker process (worker_protocol): one path of ours, or
  PyTorch's (path TORCH) at batch_size (default --conv_batch_size)."""

  def __init__(self, family: str, path: str, matmul_size: int,
               batch_size: int | None = None):
    if path == TORCH:
      argv = [TORCH_PYTHON.value, "-m", "benchmarks.torch_step",
              f"--family={family}",
              f"--batch_size={batch_size or _CONV_BATCH.value}",
              f"--matmul_size={matmul_size}"]
      env = dict(os.environ)
    else:
      argv = [sys.executable, "-m", "benchmarks.train_step",
              f"--family={family}", f"--worker={path}",
              f"--conv_batch_size={_CONV_BATCH.value}",
              f"--conv_steps_per_call={_CONV_STEPS_PER_CALL.value}",
              f"--matmul_size={matmul_size}",
              f"--chunks={','.join(_CHUNKS.value)}"]
      env = worker_env(path)
    self.proc = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env=env,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    self.info = worker_protocol.receive(self.proc.stdout)

  def time(self, mode: str, steps: int) -> float:
    self.proc.stdin.write(f"time {mode} {steps}\n")
    self.proc.stdin.flush()
    return worker_protocol.receive(self.proc.stdout)["seconds_per_step"]

  def close(self) -> None:
    if self.proc.poll() is None:
      self.proc.stdin.write("quit\n")
      self.proc.stdin.close()
      self.proc.wait()


def main(family: str, matmul_size: int = MATMUL_SIZE) -> None:
  if _WORKER.value:
    worker(family, _WORKER.value, matmul_size)
    return
  batch = _CONV_BATCH.value
  workers = {}
  try:
    if TORCH_PYTHON.value and family != "cnn":
      raise app.UsageError("--torch_python: the PyTorch reference exists for "
                       "--family=dense and --family=cnn only.")
    paths = list(PATHS if _ABLATION.value else (OLD, NEW))
    print(f"family {family}, batch {batch} (half labeled), one seed; "
          f"{ROUNDS.value} alternating rounds of {_CONV_STEPS.value} steps "
          f"per path and mode; {jax.device_count()} {jax.default_backend()} "
          f"device(s), {os.cpu_count()} CPUs", flush=True)
    # Each worker's line as soon as it has compiled (about a minute per
    # worker on an H100), so a run cut short still shows how far it got.
    for path in paths + ([TORCH] if TORCH_PYTHON.value else []):
      workers[path] = w = Worker(family, path, matmul_size)
      if path == TORCH:
        print(f"  {path}: {w.info['about']}; first call s: "
              f"{w.info['compile_s']}", flush=True)
        continue
      s = timed_settings(family, path)
      print(f"  {path}: {w.info['about']} "
            f"conv_impl={s['conv_impl']} chunk={s['steps_per_call']} steps "
            f"(scan_unroll={s['scan_unroll']}, {s['loop']}); "
            f"first call s: {w.info['compile_s']}", flush=True)
    order = [(p, m) for p, w in workers.items() for m in w.info["modes"]]
    times = {key: [] for key in order}
    for _ in range(ROUNDS.value):
      for path, mode in order:
        times[(path, mode)].append(
            workers[path].time(mode, _CONV_STEPS.value))
  finally:
    for w in workers.values():
      w.close()
  peaks = {path: 2 * matmul_size**3 / min(times.pop((path, MATMUL)))
           for path in list(workers) if (path, MATMUL) in times}
  best = {k: batch / min(v) for k, v in times.items()}
  median = {k: batch / statistics.median(v) for k, v in times.items()}
  print(f"{'path':9s} {'mode':8s} {'best ex/s':>10s} {'median ex/s':>12s}"
        "   ex/s per round")
  for (path, mode), v in times.items():
    rounds = " ".join(f"{batch / t:.0f}" for t in v)
    print(f"{path:9s} {mode:8s} {best[(path, mode)]:10.1f} "
          f"{median[(path, mode)]:12.1f}   {rounds}")
  for mode in ("jit", "chunk"):
    print(f"new/old {mode}: {best[(NEW, mode)] / best[(OLD, mode)]:.2f}x "
          f"(best), {median[(NEW, mode)] / median[(OLD, mode)]:.2f}x "
          "(median)")
  torch_best = max((v for (p, _), v in best.items() if p == TORCH),
                   default=None)
  if torch_best is not None:
    torch_median = max(v for (p, _), v in median.items() if p == TORCH)
    print(f"new chunk / best PyTorch eager mode: "
          f"{best[(NEW, 'chunk')] / torch_best:.2f}x (best), "
          f"{median[(NEW, 'chunk')] / torch_median:.2f}x (median)")
  for path, peak in peaks.items():
    print(f"{path}: float32 matmul peak ({matmul_size}^2) "
          f"{peak / 1e9:.1f} GFLOP/s")
  if family == "cnn":
    flops = cnn_flops_per_example(base_config(family))
    print(f"FLOPs/example by hand: {flops / 1e6:.1f} M (training step)")
    for path, mode in ((OLD, "chunk"), (NEW, "chunk"),
                       *((TORCH, m) for p, m in best if p == TORCH)):
      rate = best[(path, mode)] * flops
      print(f"  {path} {mode}: {rate / 1e9:.1f} GFLOP/s = "
            f"{rate / peaks[path]:.2f} of its process's matmul peak")
  print(f"examples_per_s={best[(NEW, 'chunk')]:.1f} "
        f"old_examples_per_s={best[(OLD, 'chunk')]:.1f} "
        f"speedup={best[(NEW, 'chunk')] / best[(OLD, 'chunk')]:.2f}"
        + (f" torch_examples_per_s={torch_best:.1f}" if torch_best else ""))
