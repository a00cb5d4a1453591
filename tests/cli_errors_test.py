"""The bad-input catalogue: every entry point, as a user runs it.

Each case runs one real command in a subprocess, on tiny data (the default
config's 8x8 digits, or tiny synthetic IDX / .npz files written here), and
asserts:
  * the exit status: 2 for a user error, 0 where the input is fine or a
    damaged workdir is recovered from;
  * exactly one `error: ...` line on stderr, naming the problem (none when
    the command succeeds);
  * no `Traceback` on stderr (except the one case that asks for it);
  * for a refused command, that its workdir is exactly as before: every
    file byte-identical, none added or removed (a workdir that did not
    exist still does not).

A shared module fixture trains one finished run ("base W": the default
config, 20 steps, checkpoints 10 and 20) and one finished one-cell sweep;
each case works on its own copy.
"""

import dataclasses
import errno
import gzip
import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys
from typing import Callable, Optional

import jax
import numpy as np
import pytest

from ssvae import checkpointing
from ssvae import run_dir as run_dir_lib
from ssvae.data import idx

REPO = pathlib.Path(__file__).resolve().parents[1]
# $T of the issue: the default config, 20 steps, checkpoints at 10 and 20.
T_ARGS = ("--config=configs/default.py", "--config.train.num_steps=20",
          "--config.train.steps_per_call=10", "--config.train.eval_every=10",
          "--config.train.checkpoint_every=10")
QUICK_SWEEP = "--config=configs/table3_mnist_dense.py:quick"
ONE_CELL = ('--config.axes=(("model.variant", ("semi_supervised",)), '
            '("data.num_labels", (100,)))')
IDX_STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
TIMEOUT_S = 3600  # a hang fails the test; a loaded machine must not


def python(module: str, *args) -> list[str]:
  return [sys.executable, "-m", module, *map(str, args)]


def train_cli(*args) -> list[str]:
  return python("experiments.train", *T_ARGS, *args)


def run_command(argv: list[str]) -> subprocess.CompletedProcess:
  """Runs argv from the repository root on one CPU device."""
  env = dict(os.environ, XLA_FLAGS="", JAX_PLATFORMS="cpu",
             PYTHONPATH=str(REPO))
  return subprocess.run(argv, cwd=REPO, env=env, capture_output=True,
                        text=True, timeout=TIMEOUT_S)


def run_ok(argv: list[str]) -> subprocess.CompletedProcess:
  proc = run_command(argv)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return proc


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
  """{'run': base W, 'sweep': a finished one-cell, two-seed quick sweep}."""
  root = tmp_path_factory.mktemp("finished")
  run_ok(train_cli(f"--workdir={root / 'run'}"))
  run_ok(python("experiments.sweep", QUICK_SWEEP, ONE_CELL,
                f"--workdir={root / 'sweep'}"))
  return {"run": root / "run", "sweep": root / "sweep"}


class Paths:
  """What one case works on: copies of the finished workdirs, tiny data."""

  def __init__(self, tmp: pathlib.Path, finished_dirs: dict):
    self.tmp = tmp
    self._finished = finished_dirs

  @property
  def finished_run(self) -> pathlib.Path:
    return self._finished["run"]

  @property
  def w(self) -> pathlib.Path:
    """The case's workdir (a copy of base W once base() is called)."""
    return self.tmp / "W"

  def base(self) -> pathlib.Path:
    shutil.copytree(self._finished["run"], self.w)
    return self.w

  def sweep(self) -> pathlib.Path:
    shutil.copytree(self._finished["sweep"], self.w)
    return self.w

  def mnist(self, damage: Callable[[pathlib.Path], None] = lambda d: None,
            num_train: int = 20) -> pathlib.Path:
    """Tiny official-format MNIST files, then damage(directory)."""
    directory = self.tmp / "mnist"
    directory.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", num_train), ("t10k", 10)):
      idx.write_idx(directory / f"{split}-images-idx3-ubyte.gz",
                    rng.integers(0, 256, (n, 28, 28)))
      idx.write_idx(directory / f"{split}-labels-idx1-ubyte.gz",
                    np.arange(n) % 10)
    damage(directory)
    return directory


def mnist_args(data_dir) -> tuple:
  return ("--config.data.name=mnist", "--config.data.source=files",
          f"--config.data.data_dir={data_dir}")


def train_images(directory: pathlib.Path) -> pathlib.Path:
  return directory / "train-images-idx3-ubyte.gz"


def train_labels(directory: pathlib.Path) -> pathlib.Path:
  return directory / "train-labels-idx1-ubyte.gz"


def cut_in_half(path: pathlib.Path) -> None:
  data = path.read_bytes()
  path.write_bytes(data[:len(data) // 2])


def cut_payload(path: pathlib.Path) -> None:
  """A valid gzip stream of an IDX file whose payload stops short."""
  with gzip.open(path) as f:
    payload = f.read()
  with gzip.open(path, "wb") as f:
    f.write(payload[:-100])


class TouchOnUnpickle:
  """Unpickling this creates a file: proof that a pickle was executed."""

  def __init__(self, path: pathlib.Path):
    self.path = path

  def __reduce__(self):
    return (pathlib.Path.touch, (self.path,))


def pickled_npz(p: Paths) -> pathlib.Path:
  path = p.tmp / "dsprites.npz"
  np.savez(path, imgs=np.array([TouchOnUnpickle(p.tmp / "unpickled")],
                               dtype=object),
           latents_classes=np.zeros((1, 6), np.int64))
  return path


def delete_manifest(w: pathlib.Path) -> None:
  (w / "checkpoints/20/default/manifest.ocdbt").unlink()


def truncate_largest_array_file(w: pathlib.Path) -> None:
  """Cuts the largest array data file (in a d/ folder of the database)."""
  path = max((p for p in (w / "checkpoints/20").rglob("d/*")
              if p.is_file()), key=lambda p: p.stat().st_size)
  with open(path, "r+b") as f:
    f.truncate(path.stat().st_size // 3)


def read_results(w: pathlib.Path) -> dict:
  return json.loads((w / "results.json").read_text())


def metrics_records(w: pathlib.Path) -> list[dict]:
  return [json.loads(line) for line in open(w / "metrics.jsonl")]


def a_dead_pid() -> int:
  """The pid of a process that has exited (and been reaped)."""
  proc = subprocess.Popen(["true"])
  proc.wait()
  return proc.pid


def read_only_mount(directory: pathlib.Path, argv: list[str]) -> list[str]:
  """argv run with `directory` read-only (a private bind mount when root)."""
  if os.geteuid() != 0:
    for path in [directory, *directory.rglob("*")]:
      path.chmod(path.stat().st_mode & 0o555)
    return argv
  if subprocess.run(["unshare", "-m", "true"], capture_output=True,
                    check=False).returncode:
    pytest.skip("cannot make a read-only mount here (unshare -m fails)")
  script = ('mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" && '
            'shift && exec "$@"')
  return ["unshare", "-m", "sh", "-c", script, "sh", str(directory), *argv]


@dataclasses.dataclass(frozen=True)
class Case:
  """One row: a command (after arranging its files), and what must happen.

  error: regex the single `error:` line must match; None = the command
    succeeds. workdir: the directory a refused command must leave exactly
    as it was (checked only for errors). check(paths, proc): more checks.
    traceback: the command fails with a traceback matching this regex (a
    bug, or --traceback asked for).
  """
  name: str
  command: Callable[[Paths], list[str]]
  error: Optional[str] = None
  workdir: bool = False
  check: Optional[Callable[[Paths, subprocess.CompletedProcess], None]] = None
  traceback: Optional[str] = None  # regex: a traceback holding it is due


def refused(name, command, error, workdir=True, check=None) -> Case:
  return Case(name, command, error, workdir, check)


# ------------------------------------------------- checks of some cases


def check_fallback(p: Paths, proc) -> None:
  assert re.search(r"Checkpoint step 20 in \S+ is damaged .*; resuming from "
                   r"step 10 instead", proc.stderr)
  assert read_results(p.w)["step"] == 40
  assert (p.w / "damaged_checkpoints/20").is_dir()
  assert checkpointing.saved_steps(p.w) == [30, 40]


def check_torn_line_repaired(p: Paths, proc) -> None:
  assert re.search(rf"{re.escape(str(p.w))}/metrics.jsonl line 7 is "
                   "incomplete", proc.stderr)
  train_steps = [r["step"] for r in metrics_records(p.w)
                 if r["split"] == "train"]
  assert train_steps == [10, 20, 30, 40]


def check_original_command_still_works(p: Paths, proc) -> None:
  assert not (p.w / "config.json").exists()
  run_ok(train_cli(f"--workdir={p.w}"))
  assert read_results(p.w)["step"] == 20


def check_divergence(p: Paths, proc) -> None:
  named = int(re.search(r"last checkpoint \(step (\d+), finite\)",
                        proc.stderr).group(1))
  assert sorted(os.listdir(p.w / "checkpoints"))[-1] == str(named)
  assert not [n for n in os.listdir(p.w / "checkpoints") if "tmp" in n]
  _, state = run_dir_lib.load(str(p.w), devices=jax.devices()[:1],
                            which="last")
  assert all(np.isfinite(leaf).all() for leaf in jax.tree.leaves(state)
             if np.issubdtype(leaf.dtype, np.floating))


def simulate_killed_run(p: Paths) -> list[str]:
  """What `kill -9` after the step-10 checkpoint leaves: metrics past step
  10, an unfinished save of step 20, a lock of a process that is gone."""
  w = p.base()
  shutil.rmtree(w / "checkpoints/20")
  (w / "results.json").unlink()
  (w / "checkpoints/20.orbax-checkpoint-tmp-1").mkdir()
  (w / ".lock").write_text(f"{a_dead_pid()} {socket.gethostname()}\n")
  return train_cli(f"--workdir={w}")


def check_identical_to_uninterrupted(p: Paths, proc) -> None:
  base, resumed = read_results(p.finished_run), read_results(p.w)
  for key in ("step", "metrics", "last_metrics", "validation_metrics"):
    assert resumed[key] == base[key], key
  assert "Taking over the stale lock" in proc.stderr
  assert sorted(os.listdir(p.w / "checkpoints")) == ["10", "20"]
  assert not (p.w / ".lock").exists()


def resume_to_40_after(damage: Callable[[pathlib.Path], None]):
  """The command of a resume to step 40 after damage(base W)."""
  def command(p: Paths) -> list[str]:
    damage(p.base())
    return train_cli("--config.train.num_steps=40", f"--workdir={p.w}")
  return command


def tear_last_metrics_line(w: pathlib.Path) -> None:
  with open(w / "metrics.jsonl", "a") as f:
    f.write('{"step": 30, "split": "tra')  # a write cut short by a kill


def other_model_without_config_json(p: Paths) -> list[str]:
  (p.base() / "config.json").unlink()
  return train_cli("--config.model.latent_dim=4",
                   "--config.train.num_steps=40", f"--workdir={p.w}")


def workdir_is_a_file(p: Paths) -> list[str]:
  p.w.write_text("not a directory")
  return train_cli(f"--workdir={p.w}")


def generate_without_a_run(p: Paths) -> list[str]:
  p.w.mkdir()
  return python("experiments.generate", f"--workdir={p.w}")


def check_rerun_keeps_the_results(p: Paths, proc) -> None:
  assert read_results(p.w)["metrics"] == read_results(
      p.finished_run)["metrics"]


def check_finished_sweep_not_retrained(p: Paths, proc) -> None:
  assert "1 of 1 cells already finished" in proc.stdout + proc.stderr


def check_nothing_unpickled(p: Paths, proc) -> None:
  assert not (p.tmp / "unpickled").exists()


def check_figures(p: Paths, proc) -> None:
  assert (p.w / "figures/class_conditional_seed0.png").is_file()


def lock_held_by_this_process(p: Paths) -> list[str]:
  w = p.base()
  (w / ".lock").write_text(f"{os.getpid()} {socket.gethostname()}\n")
  return train_cli("--config.train.num_steps=40", f"--workdir={w}")


def sweep_cli(*args) -> list[str]:
  return python("experiments.sweep", QUICK_SWEEP, *args)


def hold_lock(path: pathlib.Path) -> None:
  """A lock file held by a live process (the test's own)."""
  path.write_text(f"{os.getpid()} {socket.gethostname()}\n")


def second_copy_of_a_shard(p: Paths) -> list[str]:
  w = p.sweep()
  hold_lock(w / ".lock.shard-0-of-2")  # shard 0/2 runs already
  return sweep_cli(ONE_CELL, "--shard=0/2", f"--workdir={w}")


def shard_beside_a_running_shard(p: Paths) -> list[str]:
  w = p.sweep()
  hold_lock(w / ".lock.shard-1-of-2")  # shard 1/2 runs meanwhile
  os.remove(w / "results.md")
  return sweep_cli(ONE_CELL, "--shard=0/2", f"--workdir={w}")


def check_shard_ran_beside_the_other(p: Paths, proc) -> None:
  assert "Status: complete (1 cells)" in (p.w / "results.md").read_text()
  assert (p.w / ".lock.shard-1-of-2").exists()  # the other job's, untouched
  assert not (p.w / ".lock.shard-0-of-2").exists()  # released


def images_npy(p: Paths) -> pathlib.Path:
  """Two digits-shaped images to score."""
  path = p.tmp / "images.npy"
  np.save(path, np.zeros((2, 8, 8, 1), np.float32))
  return path


def detect_cli(p: Paths, *args) -> list[str]:
  return python("experiments.detect", f"--data={images_npy(p)}", *args)


def detect_on_a_directory_without_a_run(p: Paths) -> list[str]:
  p.w.mkdir()
  return detect_cli(p, f"--workdir={p.w}", "--target_fpr=0.1")


def detect_with_a_damaged_detector_file(p: Paths) -> list[str]:
  (p.base() / "detector.json").write_text('{"state": "selected", ')
  return detect_cli(p, f"--workdir={p.w}")


def curves_cli(*args) -> list[str]:
  return python("experiments.learning_curves", *args)


def curves_of_a_run_with_a_torn_line(p: Paths) -> list[str]:
  tear_last_metrics_line(p.base())
  return curves_cli(f"--run_dir={p.w}", f"--out={p.tmp / 'curves.png'}")


def check_curves_written(p: Paths, proc) -> None:
  assert re.search(r"metrics\.jsonl line \d+ is incomplete", proc.stderr)
  assert (p.tmp / "curves.png").is_file()


# ------------------------------------------------------------- catalogue

BAD_CASES = [
    refused("bad1_data_dir_is_a_file",
            lambda p: train_cli(*mnist_args(train_images(p.mnist())),
                                f"--workdir={p.w}"),
            r"train-images-idx3-ubyte\.gz: is a file, not a directory"),
    Case("bad2_deleted_manifest_falls_back",
         resume_to_40_after(delete_manifest), check=check_fallback),
    Case("bad2_truncated_array_file_falls_back",
         resume_to_40_after(truncate_largest_array_file),
         check=check_fallback),
    refused("bad3_fewer_steps_than_the_checkpoint",
            lambda p: train_cli("--config.train.num_steps=10",
                                f"--workdir={p.base()}"),
            r"holds a run at step 20, past config\.train\.num_steps=10"),
    Case("bad4_torn_metrics_line_is_repaired",
         resume_to_40_after(tear_last_metrics_line),
         check=check_torn_line_repaired),
    refused("bad5_config_json_deleted_other_model",
            other_model_without_config_json,
            r"checkpoint step 20 in \S+ does not fit this config "
            r"\(selection\.params\.decoder_layers_0\.kernel: "
            r"float32\[1, 12, 256\] on disk, float32\[1, 14, 256\]",
            check=check_original_command_still_works),
    refused("bad6_sweep_rerun_other_num_seeds",
            lambda p: sweep_cli(ONE_CELL, "--config.num_seeds=3",
                                f"--workdir={p.sweep()}"),
            r"sweep cell 'variant=semi_supervised,num_labels=100': .*"
            r"different config \(fields train\.num_seeds\)"),
    refused("bad7_divergence_names_the_last_finite_checkpoint",
            lambda p: train_cli("--config.train.steps_per_call=1",
                                "--config.train.eval_every=1",
                                "--config.train.checkpoint_every=1",
                                "--config.optimizer.learning_rate=1e3",
                                f"--workdir={p.w}"),
            r"Training diverged\..*its last checkpoint \(step \d+, finite\) "
            r"is kept", workdir=False, check=check_divergence),
    refused("bad8_sweep_config_to_train",
            lambda p: python("experiments.train", QUICK_SWEEP,
                             f"--workdir={p.w}"),
            r"table3_mnist_dense\.py:quick is a sweep config; run it with "
            r"python -m experiments\.sweep"),
    refused("bad8_experiment_config_to_sweep",
            lambda p: python("experiments.sweep",
                             "--config=configs/default.py",
                             f"--workdir={p.w}"),
            r"configs/default\.py is an experiment config; run it with "
            r"python -m experiments\.train"),
    refused("bad9_every_sweep_cell_checked_before_training",
            lambda p: sweep_cli(
                '--config.axes=(("model.variant", ("semi_supervised",)), '
                '("data.num_labels", (100, 105)))', f"--workdir={p.w}"),
            r"sweep cell 'variant=semi_supervised,num_labels=105': "
            r"num_labels=105 is not divisible by the 10 classes"),
]

TRACEBACK_CASES = [
    refused("num_labels_larger_than_the_data",
            lambda p: train_cli("--config.data.num_labels=5000",
                                f"--workdir={p.w}"),
            r"Asked for 5000 labels but there are only 1350 training points"),
    refused("num_labels_not_divisible_by_the_classes",
            lambda p: train_cli("--config.data.num_labels=105",
                                f"--workdir={p.w}"),
            r"num_labels=105 is not divisible by the 10 classes"),
    refused("empty_hidden_sizes",
            lambda p: train_cli("--config.model.hidden_sizes=()",
                                f"--workdir={p.w}"),
            r"model\.hidden_sizes=\(\) must be a non-empty sequence"),
    refused("held_out_class_10_on_digits",
            lambda p: train_cli("--config.data.held_out_class=10",
                                f"--workdir={p.w}"),
            r"Held-out class 10 is not in 0\.\.9 of data set 'digits'"),
    refused("misspelled_config_key",
            lambda p: train_cli("--config.train.num_step=20",
                                f"--workdir={p.w}"),
            r"--config\.train\.num_step: the config has no field 'num_step'; "
            r'did you mean "num_steps"\?'),
    refused("missing_data_dir",
            lambda p: train_cli(*mnist_args(p.tmp / "nowhere"),
                                f"--workdir={p.w}"),
            r"IDX files of mnist not found\. Looked in: \S+nowhere: does not "
            r"exist"),
    refused("gz_cut_in_half",
            lambda p: train_cli(*mnist_args(p.mnist(
                lambda d: cut_in_half(train_images(d)))), f"--workdir={p.w}"),
            r"Cannot read IDX file \S+train-images-idx3-ubyte\.gz: "
            r"Compressed file ended"),
    refused("idx_payload_cut_short",
            lambda p: train_cli(*mnist_args(p.mnist(
                lambda d: cut_payload(train_images(d)))), f"--workdir={p.w}"),
            r"train-images-idx3-ubyte\.gz is truncated: header says shape "
            r"\(20, 28, 28\)"),
    refused("wrong_magic_number",
            lambda p: train_cli(*mnist_args(p.mnist(
                lambda d: shutil.copy(train_labels(d), train_images(d)))),
                                f"--workdir={p.w}"),
            r"train-images-idx3-ubyte\.gz has magic number 2049, expected "
            r"2051"),
    refused("file_is_not_gzip",
            lambda p: train_cli(*mnist_args(p.mnist(
                lambda d: train_images(d).write_bytes(b"plain text, no gz"))),
                                f"--workdir={p.w}"),
            r"Cannot read IDX file \S+train-images-idx3-ubyte\.gz: Not a "
            r"gzipped file"),
    refused("fewer_labels_than_images",
            lambda p: train_cli(*mnist_args(p.mnist(
                lambda d: idx.write_idx(train_labels(d), np.arange(19) % 10))),
                                f"--workdir={p.w}"),
            r"has 20 images but \S+train-labels-idx1-ubyte\.gz has 19 labels"),
    refused("label_12_in_a_10_class_file",
            lambda p: train_cli(*mnist_args(p.mnist(
                lambda d: idx.write_idx(train_labels(d),
                                        np.full(20, 12)))),
                                f"--workdir={p.w}"),
            r"train-labels-idx1-ubyte\.gz has label 12, expected 0\.\.9"),
    refused("empty_gz",
            lambda p: train_cli(*mnist_args(p.mnist(
                lambda d: train_images(d).write_bytes(b""))),
                                f"--workdir={p.w}"),
            r"train-images-idx3-ubyte\.gz is truncated: 0 bytes"),
    refused("pickled_npz_is_refused_unread",
            lambda p: train_cli("--config.data.name=dsprites",
                                "--config.data.source=files",
                                f"--config.data.data_dir={pickled_npz(p)}",
                                f"--workdir={p.w}"),
            r"Cannot read dSprites file \S+dsprites\.npz: Object arrays "
            r"cannot be loaded when allow_pickle=False",
            check=check_nothing_unpickled),
    refused("tfds_source_for_digits",
            lambda p: train_cli("--config.data.source=tfds",
                                f"--workdir={p.w}"),
            r"data\.source='tfds' is not available for digits"),
    refused("resume_with_a_different_config",
            lambda p: train_cli("--config.loss.alpha=2.0",
                                f"--workdir={p.base()}"),
            r"holds a run with a different config \(fields loss\.alpha\)"),
    refused("workdir_is_a_file", workdir_is_a_file,
            r"workdir \S+ is a file, not a directory"),
    refused("read_only_file_system",
            lambda p: read_only_mount(p.base(), train_cli(
                "--config.train.num_steps=40", f"--workdir={p.w}")),
            r"cannot write to workdir \S+: (Read-only file system|"
            r"Permission denied)"),
    refused("config_file_missing",
            lambda p: python("experiments.train", "--config=configs/nope.py",
                             f"--workdir={p.w}"),
            r"--config=configs/nope\.py: no such file"),
    refused("quick_misspelled",
            lambda p: python("experiments.sweep",
                             "--config=configs/table3_mnist_dense.py:quik",
                             f"--workdir={p.w}"),
            r"unknown config parameter 'quik'; use no parameter \(the full "
            r"sweep\) or ':quick'"),
    refused("generate_on_a_directory_without_a_run", generate_without_a_run,
            r"config\.json not found: is \S+ a run directory\?"),
    refused("feedback_with_a_sweep_config",
            lambda p: python("experiments.feedback", QUICK_SWEEP,
                             f"--workdir={p.w}"),
            r"is a sweep config; run it with python -m experiments\.sweep"),
    refused("benchmark_with_unknown_family",
            lambda p: python("benchmarks.vmap_seeds", "--families=mlp"),
            r"--families: unknown \['mlp'\]", workdir=False),
]

ALREADY_FINE_CASES = [
    Case("rerun_of_a_finished_run",
         lambda p: train_cli(f"--workdir={p.base()}"),
         check=check_rerun_keeps_the_results),
    Case("killed_run_resumes_to_identical_results", simulate_killed_run,
         check=check_identical_to_uninterrupted),
    refused("second_process_on_a_locked_workdir", lock_held_by_this_process,
            rf"workdir \S+ is in use by process {os.getpid()} "),
    refused("negative_learning_rate",
            lambda p: train_cli("--config.optimizer.learning_rate=-1",
                                f"--workdir={p.w}"),
            r"config\.optimizer\.learning_rate: must be > 0"),
    refused("unknown_model_family",
            lambda p: train_cli("--config.model.family=transformer",
                                f"--workdir={p.w}"),
            r"config\.model\.family: 'transformer' is not one of"),
    refused("odd_batch_size",
            lambda p: train_cli("--config.train.batch_size=15",
                                f"--workdir={p.w}"),
            r"config\.train\.batch_size: must be even"),
    refused("unknown_data_set",
            lambda p: train_cli("--config.data.name=cifar",
                                f"--workdir={p.w}"),
            r"config\.data\.name: 'cifar' is not one of"),
    refused("label_fraction_above_one",
            lambda p: train_cli("--config.data.label_fraction=2.0",
                                f"--workdir={p.w}"),
            r"config\.data\.label_fraction: must be in \[0, 1\]"),
    refused("non_integer_override",
            lambda p: train_cli("--config.train.num_steps=abc",
                                f"--workdir={p.w}"),
            r"--config\.train\.num_steps=abc: invalid literal for int"),
    refused("unexpected_positional_argument",
            lambda p: train_cli(f"--workdir={p.w}", "extra"),
            r"Unexpected arguments: \['extra'\]"),
    refused("missing_workdir_flag", lambda p: train_cli(),
            r"--workdir must have a value", workdir=False),
    refused("misspelled_flag",
            lambda p: train_cli(f"--wrkdir={p.w}"),
            r"Unknown command line flag 'wrkdir'"),
    Case("generate_from_a_finished_run",
         lambda p: python("experiments.generate", f"--workdir={p.base()}"),
         check=check_figures),
    refused("generate_seed_index_out_of_range",
            lambda p: python("experiments.generate", f"--workdir={p.base()}",
                             "--seed_index=3"),
            r"seed_index=3 is outside 0\.\.0"),
    refused("sweep_axis_path_misspelled",
            lambda p: sweep_cli('--config.axes=(("model.varient", ("x",)),)',
                                f"--workdir={p.w}"),
            r"base config has no field 'model\.varient'"),
    refused("sweep_zero_seeds",
            lambda p: sweep_cli("--config.num_seeds=0", f"--workdir={p.w}"),
            r"num_seeds: must be a positive integer, got 0"),
    refused("sweep_unknown_plot",
            lambda p: sweep_cli("--config.plots=('pie_chart',)",
                                f"--workdir={p.w}"),
            r"unknown plot 'pie_chart'"),
    Case("rerun_of_a_finished_sweep",
         lambda p: sweep_cli(ONE_CELL, f"--workdir={p.sweep()}"),
         check=check_finished_sweep_not_retrained),
    refused("feedback_with_an_experiment_config",
            lambda p: python("experiments.feedback",
                             "--config=configs/default.py",
                             f"--workdir={p.w}"),
            r"config\.feedback is missing"),
    refused("benchmark_with_bad_seed_counts",
            lambda p: python("benchmarks.vmap_seeds", "--seed_counts=a,b"),
            r"--seed_counts must be integers", workdir=False),
    Case("traceback_flag_shows_the_traceback",
         lambda p: train_cli("--config.train.batch_size=15", "--traceback",
                             f"--workdir={p.w}"),
         traceback=r"ConfigError: config\.train\.batch_size"),
]

# The same guarantees for what came after the first catalogue: the protocol's
# config fields, M2 and decoder_y, sweep shards and --status_only, and the
# detect and learning_curves entry points.
MERGED_CASES = [
    refused("negative_patience",
            lambda p: train_cli("--config.train.patience=-1",
                                f"--workdir={p.w}"),
            r"config\.train\.patience: must be an integer >= 0"),
    refused("negative_min_delta",
            lambda p: train_cli("--config.train.min_delta=-0.5",
                                f"--workdir={p.w}"),
            r"config\.train\.min_delta: must be >= 0, got -0\.5"),
    refused("validation_size_above_the_data",
            lambda p: train_cli("--config.data.validation_size=5000",
                                f"--workdir={p.w}"),
            r"data\.validation_size=5000 must be below the \d+ training "
            r"points of 'digits'"),
    refused("unknown_decoder_y",
            lambda p: train_cli("--config.model.decoder_y=hard",
                                f"--workdir={p.w}"),
            r"config\.model\.decoder_y: 'hard' is not one of"),
    refused("m2_on_the_cnn_family",
            lambda p: train_cli("--config.model.variant=m2",
                                "--config.model.family=cnn",
                                f"--workdir={p.w}"),
            r"config\.model\.variant: 'm2' is implemented for "
            r"model\.family in \('dense',\), not 'cnn'"),
    refused("sweep_shard_out_of_range",
            lambda p: sweep_cli(ONE_CELL, "--shard=2/2", f"--workdir={p.w}"),
            r"--shard='2/2': need 0 <= i < n"),
    refused("sweep_only_matching_no_cell",
            lambda p: sweep_cli(ONE_CELL, "--only=variant=m2",
                                f"--workdir={p.w}"),
            r"--only='variant=m2' matches none of the cells:"),
    refused("sweep_second_copy_of_a_shard", second_copy_of_a_shard,
            rf"workdir \S+ is in use by process {os.getpid()} .*"
            r"\.lock\.shard-0-of-2"),
    Case("sweep_shard_beside_a_running_shard", shard_beside_a_running_shard,
         check=check_shard_ran_beside_the_other),
    refused("sweep_status_only_other_num_seeds",
            lambda p: sweep_cli(ONE_CELL, "--config.num_seeds=3",
                                "--status_only", f"--workdir={p.sweep()}"),
            r"sweep cell 'variant=semi_supervised,num_labels=100': .*"
            r"different config \(fields train\.num_seeds\)"),
    refused("detect_on_a_directory_without_a_run",
            detect_on_a_directory_without_a_run,
            r"config\.json not found: is \S+ a run directory\?"),
    refused("detect_target_fpr_out_of_range",
            lambda p: detect_cli(p, f"--workdir={p.base()}",
                                 "--target_fpr=2"),
            r"target_fpr must be in \(0, 1\), got 2\.0"),
    refused("detect_data_file_missing",
            lambda p: python("experiments.detect", f"--workdir={p.base()}",
                             f"--data={p.tmp / 'nope.npy'}"),
            r"nope\.npy does not exist or is not a file"),
    refused("detect_out_is_a_directory",
            lambda p: detect_cli(p, f"--workdir={p.base()}",
                                 f"--out={p.tmp}"),
            r"--out=\S+ is a directory; name a file"),
    refused("detect_with_a_damaged_detector_file",
            detect_with_a_damaged_detector_file,
            r"detector\.json is not valid JSON \(.*\); fix or restore it"),
    refused("learning_curves_of_a_directory_without_a_run",
            lambda p: curves_cli(f"--run_dir={p.tmp}",
                                 f"--out={p.tmp / 'curves.png'}"),
            r"metrics\.jsonl not found: is \S+ a run directory\?",
            workdir=False),
    refused("learning_curves_of_an_unknown_metric",
            lambda p: curves_cli(f"--run_dir={p.base()}", "--metric=nope",
                                 f"--out={p.tmp / 'curves.png'}"),
            r"has no validation or test records of 'nope'"),
    Case("learning_curves_of_a_run_with_a_torn_metrics_line",
         curves_of_a_run_with_a_torn_line, check=check_curves_written),
    refused("detect_negative_batch_size",
            lambda p: detect_cli(p, f"--workdir={p.base()}",
                                 "--batch_size=-1"),
            r"batch_size must be positive, got -1"),
    refused("diagnosis_report_on_a_directory_without_runs",
            lambda p: python("experiments.unlabeled_diagnosis_report",
                             f"--workdir={p.base()}",
                             f"--out_png={p.tmp / 'd.png'}",
                             f"--out_md={p.tmp / 'd.md'}"),
            r"runs not found: is \S+ a sweep's workdir\?"),
    refused("m2_benchmark_with_zero_repeats",
            lambda p: python("benchmarks.m2_step", "--repeats=0"),
            r"--chunk_steps and --repeats must be >= 1", workdir=False),
]



# ----------------------------------------------- files read back, faults

OFFICIAL_FASHION_MNIST = pathlib.Path(idx.KNOWN_LOCATIONS["fashion_mnist"][0])


def official_fashion_mnist() -> pathlib.Path:
  """The real Fashion-MNIST files (the case is skipped without them)."""
  if not all((OFFICIAL_FASHION_MNIST / f"{stem}.gz").is_file()
             for stem in IDX_STEMS):
    pytest.skip(f"no official Fashion-MNIST files in {OFFICIAL_FASHION_MNIST}")
  return OFFICIAL_FASHION_MNIST


def official_size_labels(directory: pathlib.Path) -> None:
  """A train labels file of the official size (60000 labels), not MNIST's."""
  idx.write_idx(train_labels(directory), np.arange(60000) % 10)


DETECTOR = {"state": "selected", "seed_index": 0, "num_samples": 10,
            "threshold": {"value": 30.0, "rule": "target_fpr", "level": 0.1,
                          "num_validation": 135, "validation_fpr": 0.1},
            "feedback": None}


def detect_with_detector(**changes) -> Callable[[Paths], list[str]]:
  """detect on base W whose detector.json is DETECTOR with `changes`
  (threshold_<field> for a field of the threshold)."""
  def command(p: Paths) -> list[str]:
    detector = json.loads(json.dumps(DETECTOR))
    for field, value in changes.items():
      if field.startswith("threshold_"):
        detector["threshold"][field[len("threshold_"):]] = value
      else:
        detector[field] = value
    (p.base() / "detector.json").write_text(json.dumps(detector))
    return detect_cli(p, f"--workdir={p.w}")
  return command


def feedback_csv(p: Paths, text: str, encoding: str = "utf-8") -> str:
  path = p.tmp / "feedback.csv"
  path.write_text(text, encoding=encoding)
  return f"--feedback={path}"


def check_fine_tuned_on_feedback(p: Paths, proc) -> None:
  assert "Fine-tuned on 1 false positives and 0 false negatives" in proc.stdout
  assert json.loads((p.w / "detector.json").read_text())["feedback"]


def sweep_with_a_cell_results(results: str) -> Callable[[Paths], list[str]]:
  def command(p: Paths) -> list[str]:
    w = p.sweep()
    (cell,) = (w / "runs").iterdir()
    (cell / "results.json").write_text(results)
    return sweep_cli(ONE_CELL, f"--workdir={w}")
  return command


def config_file(p: Paths, text: str) -> str:
  path = p.tmp / "my_config.py"
  path.write_text(text)
  return f"--config={path}"


BAD_SYNTAX = ("from configs import default\n\n"
              "def get_config(:\n  return default.get_config()\n")
GET_CONFIG_RAISES = ("def get_config():\n"
                     "  raise RuntimeError('a bug in get_config')\n")


def generate_into_an_existing_file(p: Paths) -> list[str]:
  (p.tmp / "figures.png").write_bytes(b"keep me")
  return python("experiments.generate", f"--workdir={p.base()}",
                f"--out={p.tmp / 'figures.png'}")


def check_file_kept(p: Paths, proc) -> None:
  assert (p.tmp / "figures.png").read_bytes() == b"keep me"


def without_a_config_field(section: str, name: str):
  def command(p: Paths) -> list[str]:
    w = p.base()
    config = json.loads((w / "config.json").read_text())
    del config[section][name]
    (w / "config.json").write_text(json.dumps(config))
    return python("experiments.generate", f"--workdir={w}")
  return command


# A full disk, simulated: metrics.jsonl's writer writes half of the first
# line past step 20, then fails as a full disk does (OSError ENOSPC, no
# file name: a buffered write's flush).
FULL_DISK_AFTER_STEP_20 = """
import errno, json, runpy
from ssvae import io_utils

def write(self, record):
  if record["step"] > 20:
    line = json.dumps(record)
    self._file.write(line[:len(line) // 2])
    self._file.flush()
    raise OSError(errno.ENOSPC, "No space left on device")
  WRITE(self, record)

WRITE = io_utils.MetricsWriter.write
io_utils.MetricsWriter.write = write
runpy.run_module("experiments.train", run_name="__main__", alter_sys=True)
"""


def disk_full_after_step_20(p: Paths) -> list[str]:
  w = p.base()
  p.checkpoints_before = snapshot(w / "checkpoints")
  return [sys.executable, "-c", FULL_DISK_AFTER_STEP_20, *T_ARGS,
          "--config.train.num_steps=40", f"--workdir={w}"]


def check_nothing_lost_and_it_resumes(p: Paths, proc) -> None:
  assert snapshot(p.w / "checkpoints") == p.checkpoints_before
  assert not (p.w / ".lock").exists()
  run_ok(train_cli("--config.train.num_steps=40", f"--workdir={p.w}"))
  assert read_results(p.w)["step"] == 40
  assert checkpointing.saved_steps(p.w) == [30, 40]
  train_steps = [r["step"] for r in metrics_records(p.w)
                 if r["split"] == "train"]
  assert train_steps == [10, 20, 30, 40]


OPTIMIZER_CASES = [
    ("name=sgd", r"config\.optimizer\.name: 'sgd' is not one of "
     r"\('rmsprop', 'adam'\)"),
    ("decay=1.0", r"config\.optimizer\.decay: must be in \[0, 1\), got 1\.0"),
    ("momentum=-0.1",
     r"config\.optimizer\.momentum: must be in \[0, 1\), got -0\.1"),
    ("learning_rate=0", r"config\.optimizer\.learning_rate: must be > 0"),
    ("schedule=linear", r"config\.optimizer\.schedule: 'linear' is not one "
     r"of \('constant', 'warmup_cosine', 'exponential'\)"),
    ("warmup_steps=-1",
     r"config\.optimizer\.warmup_steps: must be an integer >= 0, got -1"),
    ("decay_steps=-1",
     r"config\.optimizer\.decay_steps: must be an integer >= 0, got -1"),
    ("warmup_steps=10", r"config\.optimizer\.warmup_steps: "
     r"optimizer\.schedule='constant' does not use it \(got 10\)"),
    ("schedule=exponential", r"config\.optimizer\.decay_steps: "
     r"optimizer\.schedule='exponential' needs decay_steps > 0"),
    ("schedule=warmup_cosine --config.optimizer.decay_steps=50 "
     "--config.optimizer.warmup_steps=50",
     r"config\.optimizer\.warmup_steps: must be below "
     r"optimizer\.decay_steps \(50\), got 50"),
]


def optimizer_case(overrides: str, error: str) -> Case:
  args = [f"--config.optimizer.{o}" for o in
          overrides.replace("--config.optimizer.", "").split()]
  name = "optimizer_" + "_".join(o.replace("=", "_").replace(".", "_")
                                 for o in overrides.replace(
                                     "--config.optimizer.", "").split())
  return refused(name, lambda p: train_cli(*args, f"--workdir={p.w}"), error)


READ_BACK_CASES = [
    refused("fashion_mnist_files_read_as_mnist",
            lambda p: train_cli(*mnist_args(official_fashion_mnist()),
                                f"--workdir={p.w}"),
            r"train-images-idx3-ubyte\.gz is Fashion-MNIST's "
            r"train-images-idx3-ubyte, not MNIST's \(by its MD5\)"),
    refused("official_size_idx_file_that_is_not_mnist",
            lambda p: train_cli(*mnist_args(p.mnist(official_size_labels)),
                                f"--workdir={p.w}"),
            r"train-labels-idx1-ubyte\.gz has the size of an official MNIST "
            r"/ Fashion-MNIST file \(60008 bytes\) but is not MNIST's "
            r"train-labels-idx1-ubyte .*config\.data\.verify_checksums=False"),
    Case("feedback_csv_with_a_byte_order_mark",
         lambda p: detect_cli(p, f"--workdir={p.base()}", "--target_fpr=0.1",
                              "--finetune_steps=5", feedback_csv(
                                  p, "index,label\n0,false_positive\n",
                                  encoding="utf-8-sig")),
         check=check_fine_tuned_on_feedback),
    refused("feedback_csv_index_superscript_two",
            lambda p: detect_cli(p, f"--workdir={p.base()}",
                                 "--target_fpr=0.1", "--finetune_steps=5",
                                 feedback_csv(p, "index,label\n"
                                              "\u00b2,false_positive\n")),
            r"feedback\.csv line 2: index '\u00b2' is not a row of the scored "
            r"data: not a whole number 0\.\.1"),
    refused("no_space_left_while_training", disk_full_after_step_20,
            r"no space left on \S+/W; free some space there .*resumes from "
            r"its last saved checkpoint", workdir=False,
            check=check_nothing_lost_and_it_resumes),
    refused("detector_json_with_a_string_threshold",
            detect_with_detector(threshold_value="30.0"),
            r"detector\.json: threshold\.value must be a finite number, got "
            r"'30\.0'; fix it or delete the file"),
    refused("detector_json_with_zero_samples",
            detect_with_detector(num_samples=0),
            r"detector\.json: num_samples must be an integer >= 1, got 0"),
    refused("detector_json_level_outside_its_rule",
            detect_with_detector(threshold_level=5),
            r"detector\.json: threshold\.level must be a number in \(0, 1\) "
            r"for rule 'target_fpr', got 5"),
    refused("sweep_cell_results_json_is_empty",
            sweep_with_a_cell_results("{}"),
            r"runs/variant=semi_supervised,num_labels=100/results\.json is "
            r"not a finished cell's results \(it has neither 'metrics' nor "
            r"'diverged'\); delete it to retrain the cell"),
    refused("batch_larger_than_the_training_split",
            lambda p: train_cli("--config.train.batch_size=1000000000",
                                f"--workdir={p.w}"),
            r"config\.train\.batch_size=1000000000 is larger than the "
            r"training split: 'digits' has \d+ training points \(after \d+ "
            r"validation points\); use a batch of at most \d+"),
    refused("generate_zero_per_class",
            lambda p: python("experiments.generate", f"--workdir={p.base()}",
                             "--num_per_class=0"),
            r"--num_per_class=0: must be a positive number of images"),
    refused("generate_out_is_an_existing_file",
            generate_into_an_existing_file,
            r"--out=\S+figures\.png is an existing file; --out names the "
            r"directory", check=check_file_kept),
    refused("learning_curves_unknown_figure_format",
            lambda p: curves_cli(f"--run_dir={p.base()}",
                                 f"--out={p.tmp / 'x.xyz'}"),
            r"--out=\S+x\.xyz: '\.xyz' is not a figure format; use one of "
            r".*\.pdf.*\.png"),
    refused("comparison_report_on_a_train_run",
            lambda p: python("experiments.comparison_report",
                             f"--workdir={p.base()}",
                             f"--out_md={p.tmp / 'c.md'}"),
            r"results\.json is not a sweep's results\.json .*give the "
            r"sweep's --workdir"),
    refused("comparison_report_also_without_a_suffix",
            lambda p: python("experiments.comparison_report",
                             f"--workdir={p.tmp}", f"--also={p.tmp}",
                             f"--out_md={p.tmp / 'c.md'}"),
            r"--also='\S+': give DIR=SUFFIX"),
    refused("config_file_with_a_syntax_error",
            lambda p: python("experiments.train", config_file(p, BAD_SYNTAX),
                             f"--workdir={p.w}"),
            r"my_config\.py line 3 \(--config\): SyntaxError: invalid syntax "
            r"in 'def get_config\(:'"),
    Case("config_file_whose_get_config_raises",
         lambda p: python("experiments.train",
                          config_file(p, GET_CONFIG_RAISES),
                          f"--workdir={p.w}"),
         traceback=r"RuntimeError: a bug in get_config"),
    refused("detect_negative_finetune_steps",
            lambda p: detect_cli(p, f"--workdir={p.base()}",
                                 "--finetune_steps=-5"),
            r"--finetune_steps=-5: fine-tuning needs a positive number of "
            r"steps"),
    refused("config_json_without_a_field",
            without_a_config_field("model", "latent_dim"),
            r"config\.json lacks the field 'latent_dim'; fix or restore it"),
] + [optimizer_case(*case) for case in OPTIMIZER_CASES]

# Workdir names the OS accepts that once made intact checkpoints read as
# damaged (orbax/tensorstore parsed them as URLs): each run saved there at
# steps 10 and 20 resumes to 40 and saves again.
ODD_WORKDIR_NAMES = {"space": "with space", "unicode": "ünïcødé",
                     "percent_20": "run%20a", "hash_percent": "run #1 100%",
                     "query": "a?b=c"}


def resume_in_workdir_named(name: str):
  def command(p: Paths) -> list[str]:
    odd = p.tmp / name
    shutil.copytree(p.finished_run, odd)
    return train_cli("--config.train.num_steps=40", f"--workdir={odd}")
  return command


def check_resumed_in_odd_workdir(name: str):
  def check(p: Paths, proc) -> None:
    odd = p.tmp / name
    assert "damaged" not in proc.stderr
    assert re.search(r"Resuming \S.* from step 20", proc.stderr)
    assert read_results(odd)["step"] == 40
    assert checkpointing.saved_steps(odd) == [30, 40]
    _, state = run_dir_lib.load(str(odd), devices=jax.devices()[:1],
                              which="last")
    assert int(np.asarray(state.step)[0]) == 40
  return check


PATH_CASES = [Case(f"resume_in_workdir_with_{key}",
                   resume_in_workdir_named(name),
                   check=check_resumed_in_odd_workdir(name))
              for key, name in ODD_WORKDIR_NAMES.items()]

CASES = (BAD_CASES + TRACEBACK_CASES + ALREADY_FINE_CASES + MERGED_CASES
         + READ_BACK_CASES + PATH_CASES)


def snapshot(directory: pathlib.Path) -> Optional[dict]:
  """{relative path: bytes} of every file below directory (None: absent)."""
  if not directory.exists():
    return None
  if directory.is_file():
    return {".": directory.read_bytes()}
  return {str(p.relative_to(directory)): p.read_bytes()
          for p in sorted(directory.rglob("*")) if p.is_file()}


def test_case_names_are_unique():
  names = [case.name for case in CASES]
  assert len(names) == len(set(names))


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_catalogue(case, tmp_path, finished):
  paths = Paths(tmp_path, finished)
  argv = case.command(paths)
  before = snapshot(paths.w)
  proc = run_command(argv)
  error_lines = [l for l in proc.stderr.splitlines() if l.startswith("error:")]
  if case.traceback:
    assert proc.returncode != 0 and "Traceback" in proc.stderr
    assert re.search(case.traceback, proc.stderr), proc.stderr[-3000:]
    return
  assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
  if case.error is None:
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not error_lines
  else:
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert len(error_lines) == 1, proc.stderr[-3000:]
    assert re.search(case.error, error_lines[0]), error_lines[0]
    if case.workdir:
      assert snapshot(paths.w) == before
  if case.check is not None:
    case.check(paths, proc)


# ------------------------------------- the error boundary's full-disk reading

# What tensorstore raised when orbax saved a checkpoint on a 2 MiB tmpfs.
TENSORSTORE_NO_SPACE = (
    'RESOURCE_EXHAUSTED: Error writing "selection.evals_since_best/0" in '
    'OCDBT database at local file "/mnt/W/checkpoints/10.orbax-checkpoint-'
    'tmp/default.orbax-checkpoint-tmp/ocdbt.process_0/": Failed writing: '
    '"/mnt/W/checkpoints/10.orbax-checkpoint-tmp/default.orbax-checkpoint-'
    'tmp/ocdbt.process_0/d/025ac681": Failed to write 437227 bytes to file '
    "25: No space left on device [os_error_code='28']")


def test_no_space_names_the_file_the_disk_refused():
  from ssvae import cli  # pylint: disable=g-import-not-at-top
  error = OSError(errno.ENOSPC, "No space left on device", "/mnt/W/x.json")
  assert cli.no_space_message(error, "/mnt/W").startswith(
      "no space left on /mnt/W/x.json;")
  assert cli.no_space_message(ValueError(TENSORSTORE_NO_SPACE)).startswith(
      "no space left on /mnt/W/checkpoints/10.orbax-checkpoint-tmp/")


def test_no_space_without_a_file_name_names_the_workdir():
  from ssvae import cli  # pylint: disable=g-import-not-at-top
  try:
    try:
      raise OSError(errno.ENOSPC, "No space left on device")
    except OSError as e:
      raise RuntimeError("while closing the writer") from e
  except RuntimeError as outer:
    assert cli.no_space_message(outer, "/mnt/W").startswith(
        "no space left on /mnt/W;")


def test_other_errors_are_not_a_full_disk():
  from ssvae import cli  # pylint: disable=g-import-not-at-top
  assert cli.no_space_message(OSError(errno.EACCES, "denied", "/x")) is None
  assert cli.no_space_message(ValueError("RESOURCE_EXHAUSTED: Out of memory "
                                         "allocating 99 bytes")) is None


def test_a_syntax_error_outside_the_config_file_is_code(tmp_path):
  from ssvae import cli  # pylint: disable=g-import-not-at-top
  config, other = tmp_path / "config.py", tmp_path / "helper.py"
  config.write_text("import helper\n")
  other.write_text("x = (\n")
  error = SyntaxError("'(' was never closed", (str(other), 1, 5, "x = (\n"))
  assert cli.flag_error_message(error, ["prog", f"--config={config}"]) is None
  error = SyntaxError("invalid syntax", (str(config), 1, 1, "import helper"))
  assert cli.flag_error_message(error, ["prog", f"--config={config}:quick"]) == (
      f"{config} line 1 (--config): SyntaxError: invalid syntax in "
      "'import helper'")
