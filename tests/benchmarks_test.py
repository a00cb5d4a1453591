"""Smoke tests of every benchmark entry point in benchmarks/.

Each case runs one entry point as a user would (`python -m benchmarks.X`,
from the repository root, on the CPU) with the flags of its smallest run:
one round, a step or two, tiny batches and matmuls. It must exit cleanly
and end its stdout with the machine-readable summary line, whose first
field is `examples_per_s=<a positive number>`.

No real data: the benchmarks train on synthetic data, and cnn_parity
(which reads MNIST) gets tiny MNIST-format IDX files in a temporary
directory. The subprocesses share the test run's XLA compilation cache
(tests/conftest.py), so a program two benchmarks both build compiles once.
Most of the time goes into compiling the models (the paper's sizes, which
the benchmarks fix): minutes in all on a busy 2-core machine, the CNN
cases the longest.
"""

import os
import pathlib
import re
import subprocess
import sys

import pytest

from ssvae.data import idx

REPO = pathlib.Path(__file__).resolve().parents[1]
TIMEOUT_S = 900  # one case; a hung benchmark fails instead of blocking
SUMMARY = re.compile(r"^examples_per_s=(\S+)(\s|$)")
# A tiny MNIST: cnn_parity holds VALIDATION points out of the training split
# and draws NUM_LABELS labeled points from the rest.
NUM_TRAIN, NUM_TEST, VALIDATION, NUM_LABELS = 60, 20, 20, 10

CONV_SMOKE = ["--rounds=1", "--conv_steps=1", "--conv_batch_size=2",
              "--conv_steps_per_call=1", "--matmul_size=64"]
CASES = {
    "train_step_dense": ["benchmarks.train_step", "--batch_size=8",
                         "--steps=4", "--steps_per_call=4",
                         "--matmul_size=64"],
    "train_step_cnn": ["benchmarks.train_step", "--family=cnn", *CONV_SMOKE],
    "train_step_multihead_cnn": ["benchmarks.train_step",
                                 "--family=multihead_cnn", *CONV_SMOKE],
    "m2_step": ["benchmarks.m2_step", "--chunk_steps=2", "--repeats=1",
                "--batch_size=8"],
    "vmap_seeds": ["benchmarks.vmap_seeds", "--families=dense",
                   "--seed_counts=2", "--dense_steps=2",
                   "--dense_batch_size=8", "--num_train=200", "--repeats=1"],
    "stacked_cells": ["benchmarks.stacked_cells", "--num_labels=20,40",
                      "--held_out_classes=3", "--num_seeds=1", "--steps=2",
                      "--batch_size=8", "--num_train=200", "--repeats=1"],
    "profile_step": ["benchmarks.profile_step", "--steps=1",
                     "--conv_batch_size=2", "--conv_steps_per_call=1",
                     "--top=3"],
    "conv_forms": ["benchmarks.conv_forms", "2", "8", "4", "4"],
    "cnn_batch_size": ["benchmarks.cnn_batch_size", "--batch_sizes=4,8",
                       "--steps=4", "--rounds=1", "--num_seeds=1",
                       "--num_train=200"],
    # + --data_dir and --workdir, in the test.
    "cnn_parity": ["benchmarks.cnn_parity", "--steps=1",
                   f"--num_labels={NUM_LABELS}", "--num_seeds=2",
                   "--batch_size=8", f"--validation_size={VALIDATION}"],
    # The workers of train_step --torch_python; alone with --steps.
    "torch_step_cnn": ["benchmarks.torch_step", "--steps=1",
                       "--batch_size=2", "--matmul_size=64"],
    "torch_step_dense": ["benchmarks.torch_step", "--family=dense",
                         "--steps=1", "--batch_size=2", "--matmul_size=64"],
    # + --torch_python, in the test.
    "train_step_dense_vs_torch": ["benchmarks.train_step", "--batch_size=8",
                                  "--steps=4", "--steps_per_call=4",
                                  "--matmul_size=64", "--rounds=1"],
}
# PyTorch is not a dependency of ssvae: these run with the Python that
# SSVAE_TORCH_PYTHON names (one with torch), or this one if it has torch.
NEEDS_TORCH = {"torch_step_cnn", "torch_step_dense",
               "train_step_dense_vs_torch"}
# These compile the full-size CNN and M2 models (2-5 min each on 2 busy
# cores), too slow for the default suite: they run with
# SSVAE_SLOW_TESTS=1 (bash scripts/test.sh with it set runs everything).
SLOW = {"train_step_cnn", "train_step_multihead_cnn", "m2_step",
        "profile_step", "cnn_parity", "cnn_batch_size"}


def write_tiny_mnist(directory: pathlib.Path) -> None:
  """The four MNIST IDX files, NUM_TRAIN + NUM_TEST learnable images."""
  for (split, count), seed in zip((("train", NUM_TRAIN), ("test", NUM_TEST)),
                                  (1, 2)):
    images, labels = idx.synthetic_images(count, seed=seed)
    images_stem, labels_stem = idx.SPLIT_FILES[split]
    idx.write_idx(directory / images_stem, images)
    idx.write_idx(directory / labels_stem, labels)


def benchmark_env() -> dict:
  """The user's environment on the CPU: one host device (the test run's
  8 simulated devices dropped), the test run's compilation cache kept."""
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  env["XLA_FLAGS"] = " ".join(
      f for f in env.get("XLA_FLAGS", "").split()
      if not f.startswith("--xla_force_host_platform_device_count"))
  return env


def torch_python_or_skip() -> str:
  """A Python with torch: $SSVAE_TORCH_PYTHON, or this one if it has it."""
  named = os.environ.get("SSVAE_TORCH_PYTHON")
  if named:
    return named
  pytest.importorskip(
      "torch", reason="benchmarks/torch_step.py needs PyTorch, not a "
      "dependency of ssvae: set SSVAE_TORCH_PYTHON to a Python with torch")
  return sys.executable


def last_line(stdout: str) -> str:
  lines = [line for line in stdout.splitlines() if line.strip()]
  return lines[-1] if lines else ""


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name
    for name in sorted(CASES)])
def test_benchmark_ends_with_examples_per_s(name, tmp_path):
  module, *args = CASES[name]
  python = sys.executable
  if name in NEEDS_TORCH:
    torch_python = torch_python_or_skip()
    if module == "benchmarks.torch_step":
      python = torch_python
    else:
      args += [f"--torch_python={torch_python}"]
  if name == "cnn_parity":
    data_dir = tmp_path / "mnist"
    data_dir.mkdir()
    write_tiny_mnist(data_dir)
    args += [f"--data_dir={data_dir}", f"--workdir={tmp_path / 'runs'}"]
  proc = subprocess.run([python, "-m", module, *args], cwd=REPO,
                        env=benchmark_env(), capture_output=True, text=True,
                        timeout=TIMEOUT_S, check=False)
  assert proc.returncode == 0, (
      f"{module} exited {proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\n"
      f"stderr:\n{proc.stderr[-3000:]}")
  line = last_line(proc.stdout)
  match = SUMMARY.match(line)
  assert match, f"{module}'s last line is not a summary: {line!r}"
  examples_per_s = float(match.group(1))
  assert examples_per_s > 0, line


def test_tiny_mnist_reads_back(tmp_path):
  write_tiny_mnist(tmp_path)
  data = idx.load_idx_dataset("mnist", str(tmp_path))
  assert (len(data.train), len(data.test)) == (NUM_TRAIN, NUM_TEST)
  assert sorted(set(data.train.y.tolist())) == list(range(10))


def test_cnn_batch_size_picks_the_smallest_batch_near_the_fastest():
  # chunk_timing is flag-free (a benchmark module would define its flags
  # again in this process).
  from benchmarks import chunk_timing
  rates = {32: 300.0, 64: 380.0, 128: 400.0, 256: 390.0}
  pick = chunk_timing.smallest_near_fastest
  assert pick(rates, 0.9) == 64   # 380 >= 0.9 * 400
  assert pick(rates, 0.7) == 32
  assert pick(rates, 1.0) == 128  # only the fastest
