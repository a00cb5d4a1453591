"""Training across two processes (jax.distributed on CPU, gloo) matches one.

Two local processes of `python -m experiments.train --multihost`, 4 CPU
devices each, train one run on the 8 global devices (a (seed 2, data 4)
mesh spanning both); one process with 8 devices trains the same config.
Their metrics.jsonl and results.json agree, and only process 0 writes the
run's files. A sweep (`python -m experiments.sweep --multihost`) across two
processes then resumes a copy of the two-process run from its last
checkpoint (as after a kill of both) and writes what one process writes
resuming the one-process run. A process started with --num_processes=2 and
no partner stops with one `error:` line.

The two runs agree to float32 rounding, not bitwise: the cross-process
all-reduce (gloo) sums the data shards' gradients and evaluation sums in
another order than XLA's in-process all-reduce, which moves the last bits
of a float32 (measured: relative differences up to ~1e-7, e.g. a KL of
0.19604971 against 0.19604973; accuracies identical). So floats are
compared with a relative tolerance of 1e-5, everything else exactly.

What the module costs, and how it is kept small (measured on 2 cores): a
process spends its CPU importing (~3 s), tracing (~1.5 s) and compiling
(~40 small XLA programs, ~8 s cold); the steps themselves take
milliseconds, so fewer steps, evaluations or checkpoints save nothing
measurable. The processes share the test session's persistent compilation
cache (tests/conftest.py sets JAX_COMPILATION_CACHE_DIR; _env keeps it),
which cuts a one-process run, or a process 0, that finds its programs there
to a few seconds of CPU. Process 1 of a pair gains nothing from it: jax
writes the cache only from process 0, and process 1's cache keys differ
from process 0's (its devices' topology), so every process 1 compiles
everything, a launch of a pair costs ~15 s of CPU. So:
- the train runs train the sweep's cell (_CELL_CONFIG), so the sweep's
  process 0 and its one-process run find their programs in the cache (the
  train runs' num_steps, eval_every and checkpoint_every are no part of a
  program);
- the sweep is also the resume check, so there are two launches of a pair,
  not three (the module took 64 s with a separate resume pair, 52 s
  without, on a loaded machine);
- one module fixture (`launches`) starts every process the tests check,
  each group as soon as what it needs has finished, so the two cores stay
  busy while process 0 of a pair waits for its partner.
"""

import csv
import itertools
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_TIMEOUT_S = 600  # per group of processes; a hung job fails the test instead
# The lone process stops after its imports and --initialization_timeout
# (3 s; jax's own deadline, which would abort it, is 2 * 3 + 30 s after its
# imports: ssvae/cli.py), so 90 s bounds a hang even with the other
# processes sharing the CPU.
_ALONE_TIMEOUT_S = 90
# The sweep: one cell of configs/table3_mnist_dense.py:quick, 2 seeds,
# trained to 40 steps with the train runs' evaluation and checkpoints. Its
# run directory starts as a copy of a finished 20-step train run: the sweep
# resumes it from that run's last checkpoint (as after a kill).
_SWEEP_ARGS = ("--config=configs/table3_mnist_dense.py:quick",
               "--config.axes=((\"model.variant\", (\"semi_supervised\",)),"
               " (\"data.num_labels\", (100,)))",
               "--config.base.train.num_steps=40",
               "--config.base.train.eval_every=10",
               "--config.base.train.checkpoint_every=10")
_SWEEP_CELL = "variant=semi_supervised,num_labels=100"  # its run: runs/<this>
# The train runs' experiment config: that cell's, as the sweep builds it
# (ssvae/sweep/grid.py expand_cells), so that both compile the same
# programs (the module docstring says why).
_CELL_CONFIG = '''\
"""The cell that tests/multihost_test.py sweeps, as an experiment config."""
from configs import table3_mnist_dense


def get_config():
  sweep = table3_mnist_dense.get_config("quick")
  config = sweep.base.copy_and_resolve_references()
  config.model.variant = "semi_supervised"
  config.data.num_labels = 100
  config.train.num_seeds = sweep.num_seeds
  return config
'''
_OVERRIDES = ("--config.train.eval_every=10",
              "--config.train.checkpoint_every=10")
# Fields that measure the machine, not the run (a sweep cell's results also
# name the machine, whose device count differs).
_TIMING = ("examples_per_s", "wall_s", "cpu_s", "machine")
_LOG_NUMBERS = itertools.count()


def _free_ports(count: int) -> list:
  """`count` distinct free ports (all bound at once, so none repeats)."""
  sockets = [socket.socket() for _ in range(count)]
  try:
    for s in sockets:
      s.bind(("localhost", 0))
    return [s.getsockname()[1] for s in sockets]
  finally:
    for s in sockets:
      s.close()


def _env(devices: int) -> dict:
  """os.environ (with the session's JAX_COMPILATION_CACHE_DIR), on CPU with
  `devices` devices."""
  return dict(os.environ, JAX_PLATFORMS="cpu",
              XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")


def _start(workdir, devices, *args,
           module="experiments.train") -> subprocess.Popen:
  """The command, its stdout and stderr in files beside the workdir (a
  pipe nobody reads while another process is waited for could fill up and
  stall it)."""
  log = f"{workdir}.{next(_LOG_NUMBERS)}"
  with open(f"{log}.out", "w") as out, open(f"{log}.err", "w") as err:
    proc = subprocess.Popen(
        [sys.executable, "-m", module, f"--workdir={workdir}", *args],
        cwd=REPO, env=_env(devices), stdout=out, stderr=err)
  proc.logs = (f"{log}.out", f"{log}.err")
  return proc


def _train_args(config_file, num_steps) -> tuple:
  return (f"--config={config_file}", *_OVERRIDES,
          f"--config.train.num_steps={num_steps}")


def _multihost_args(port, process_id, timeout=120) -> tuple:
  return ("--multihost", f"--coordinator_address=localhost:{port}",
          "--num_processes=2", f"--process_id={process_id}",
          f"--initialization_timeout={timeout}")


def _two_processes(workdir, port, *args, **kwargs) -> list:
  """Both processes of one --multihost job, started together."""
  return [_start(workdir, 4, *args, *_multihost_args(port, i), **kwargs)
          for i in range(2)]


class _Group:
  """Processes started together (a pair, or one), waited for together."""

  def __init__(self, procs, timeout):
    self.procs, self.deadline = procs, time.monotonic() + timeout
    self.timeout, self.timed_out = timeout, False

  def poll(self) -> bool:
    """True once every process has ended. One that fails ends its partner
    (which would wait for it until its own timeout); past the deadline all
    are killed."""
    codes = [p.poll() for p in self.procs]
    if None not in codes:
      return True
    if any(c not in (None, 0) for c in codes) or (
        time.monotonic() > self.deadline):
      self.timed_out = time.monotonic() > self.deadline
      for p in self.procs:
        if p.poll() is None:
          p.kill()
          p.wait()
      return True
    return False

  def results(self) -> list:
    """[(status, stdout, stderr)] per process."""
    def read(path):
      with open(path) as f:
        return f.read()
    return [(p.returncode, *map(read, p.logs)) for p in self.procs]


def _run_graph(jobs: dict) -> dict:
  """Runs jobs {name: (names it needs, start() -> [Popen], timeout,
  on_success(results) or None)}: each starts once those it needs have
  succeeded (never, if one failed). Returns {name: (results or None,
  timed_out, what kept it from starting or None)}."""
  pending, running, done = dict(jobs), {}, {}
  try:
    while pending or running:
      for name, (needs, start, timeout, _) in list(pending.items()):
        failed = [n for n in needs if n in done and not _succeeded(done[n])]
        if failed:
          done[name] = (None, False, f"not started: {failed} failed")
          del pending[name]
        elif all(n in done for n in needs):
          running[name] = _Group(start(), timeout)
          del pending[name]
      for name, group in list(running.items()):
        if group.poll():
          done[name] = (group.results(), group.timed_out, None)
          del running[name]
          on_success = jobs[name][3]
          if on_success is not None and _succeeded(done[name]):
            on_success(done[name][0])
      time.sleep(0.05)
  finally:  # an error here (or ^C) leaves no process behind
    for group in running.values():
      for p in group.procs:
        if p.poll() is None:
          p.kill()
          p.wait()
  return done


def _succeeded(outcome) -> bool:
  results, timed_out, _ = outcome
  return results is not None and not timed_out and all(
      rc == 0 for rc, _, _ in results)


@pytest.fixture(scope="module")
def launches(tmp_path_factory):
  """Every process the tests check, run once for the module:
  - "two_20", "one_20": the two-process and the one-process train run, 20
    steps, side by side;
  - "sweep_two", "sweep_one": the sweep on two processes and on one, each
    resuming a copy of that train run to 40 steps (_SWEEP_ARGS);
  - "alone": process 0 of 2 with no partner.
  Returns the workdirs, each job's outcome (see _run_graph), and copies of
  the runs' files after 20 steps (the train runs) and after 40 (the sweep
  cells)."""
  root = tmp_path_factory.mktemp("multihost")
  config_file = root / "cell_config.py"
  config_file.write_text(_CELL_CONFIG)
  dirs = {name: root / name
          for name in ("two", "one", "alone", "sweep_two", "sweep_one")}
  ports = dict(zip(("two_20", "alone", "sweep_two"), _free_ports(3)))
  files = {}

  def copy_files(name, num_steps, run):
    def on_success(results):
      del results
      files.setdefault(num_steps, {})[name] = {
          f: (run / f).read_text() if (run / f).exists() else None
          for f in ("metrics.jsonl", "results.json", "config.json")}
    return on_success

  def train(name):
    args = _train_args(config_file, 20)
    if name == "one":
      return lambda: [_start(dirs["one"], 8, *args)]
    return lambda: _two_processes(dirs["two"], ports["two_20"], *args)

  def sweep(name, train_run):
    def start():
      shutil.copytree(dirs[train_run], dirs[name] / "runs" / _SWEEP_CELL)
      if name == "sweep_one":
        return [_start(dirs[name], 8, *_SWEEP_ARGS,
                       module="experiments.sweep")]
      return _two_processes(dirs[name], ports[name], *_SWEEP_ARGS,
                            module="experiments.sweep")
    return start

  alone = lambda: [_start(dirs["alone"], 4, *_train_args(config_file, 20),
                          *_multihost_args(ports["alone"], 0, timeout=3))]
  cell = lambda name: dirs[name] / "runs" / _SWEEP_CELL
  jobs = {
      "two_20": ((), train("two"), _TIMEOUT_S,
                 copy_files("two", 20, dirs["two"])),
      "one_20": ((), train("one"), _TIMEOUT_S,
                 copy_files("one", 20, dirs["one"])),
      "alone": ((), alone, _ALONE_TIMEOUT_S, None),
      # After the train runs they resume, which also compiled (and cached)
      # their programs: process 0 of a pair, the one process.
      "sweep_one": (("one_20",), sweep("sweep_one", "one"), _TIMEOUT_S,
                    copy_files("one", 40, cell("sweep_one"))),
      "sweep_two": (("two_20",), sweep("sweep_two", "two"), _TIMEOUT_S,
                    copy_files("two", 40, cell("sweep_two"))),
  }
  return {"dirs": dirs, "outcomes": _run_graph(jobs), "files": files,
          "alone_port": ports["alone"]}


def _results(launches, name) -> list:
  """The job's [(status, stdout, stderr)]; fails the test if it did not
  run or ran past its timeout."""
  results, timed_out, not_started = launches["outcomes"][name]
  if not_started:
    pytest.fail(f"{name}: {not_started}")
  if timed_out:
    pytest.fail(f"{name} ran past its timeout: "
                + "\n".join(err[-3000:] for _, _, err in results))
  return results


def _succeeded_results(launches, *names) -> list:
  """_results of each job, every process of which must have exited 0 (a
  pair's partner of a failed process is killed: both stderrs are shown)."""
  out = []
  for name in names:
    results = _results(launches, name)
    assert all(rc == 0 for rc, _, _ in results), "\n".join(
        f"{name}, process {i}: status {rc}\n{err[-3000:]}"
        for i, (rc, _, err) in enumerate(results))
    out.append(results)
  return out


def _without_timing(value):
  if isinstance(value, dict):
    return {k: _without_timing(v) for k, v in value.items()
            if k not in _TIMING}
  if isinstance(value, list):
    return [_without_timing(v) for v in value]
  return value


def _assert_close(a, b, where="") -> None:
  if isinstance(a, dict):
    assert isinstance(b, dict) and sorted(a) == sorted(b), where
    for k in a:
      _assert_close(a[k], b[k], f"{where}.{k}")
  elif isinstance(a, list):
    assert isinstance(b, list) and len(a) == len(b), where
    for i, (x, y) in enumerate(zip(a, b)):
      _assert_close(x, y, f"{where}[{i}]")
  elif isinstance(a, float) and isinstance(b, float):
    assert math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6), (where, a, b)
  else:
    assert a == b, (where, a, b)


def _records(text: str) -> list:
  return [_without_timing(json.loads(line)) for line in text.splitlines()]


@pytest.mark.parametrize("num_steps", [20, 40])
def test_two_processes_train_what_one_process_trains(launches, num_steps):
  """After 20 steps (the train runs) and after their resumption to 40 (the
  sweep cells, which started from copies of them)."""
  jobs = {20: ("two_20", "one_20"), 40: ("sweep_two", "sweep_one")}
  outputs = _succeeded_results(launches, *jobs[num_steps])
  if num_steps == 40:  # resumed from the copied runs, not from scratch
    for (_, _, err), *_ in outputs:
      assert "from step 20." in err, err[-3000:]
  files = launches["files"][num_steps]
  for name in ("two", "one"):
    assert None not in files[name].values(), (name, files[name])
  two, one = (_records(files[n]["metrics.jsonl"]) for n in ("two", "one"))
  # Every record once: a train record every log_every steps (0: every
  # steps_per_call), validation and test every eval_every, each per seed;
  # after the resume the first 20 steps' lines are kept, none repeated.
  train = json.loads(files["two"]["config.json"])["train"]
  results = json.loads(files["two"]["results.json"])
  expected = sorted(
      (step, split, seed) for seed in results["seeds"]
      for split, every in (
          ("train", train["log_every"] or train["steps_per_call"]),
          ("validation", train["eval_every"]), ("test", train["eval_every"]))
      for step in range(every, num_steps + 1, every))
  keys = [(r["step"], r["split"], r["seed"]) for r in two]
  assert len(set(keys)) == len(keys)
  assert sorted(keys) == expected and len(results["seeds"]) == 2
  _assert_close(two, one, "metrics.jsonl")
  _assert_close(*(_without_timing(json.loads(files[n]["results.json"]))
                  for n in ("two", "one")), where="results.json")
  assert results["step"] == num_steps


def test_only_process_0_writes_the_runs_files(launches):
  """Process 1 writes its own checkpoint shards (orbax: ocdbt.process_1,
  array_metadatas/process_1) and nothing else: outside checkpoints/ the
  two-process workdir holds the same files as the one-process one (no
  second lock, metrics or event file), and only process 0 prints."""
  [(_, out0, _), (_, out1, _)], _ = _succeeded_results(launches, "two_20",
                                                       "one_20")

  def files(workdir):
    return sorted(os.path.relpath(os.path.join(d, f), workdir)
                  for d, _, names in os.walk(workdir) for f in names)
  two, one = (files(launches["dirs"][n]) for n in ("two", "one"))
  outside = lambda names: [n.split("events.out")[0] for n in names
                           if not n.startswith("checkpoints")]
  assert outside(two) == outside(one)
  process_1 = [n for n in two if "process_1" in n]
  assert process_1 and all(n.startswith("checkpoints") for n in process_1)
  # (gloo prints its connections on stdout, from C++, in both.)
  assert "Done:" in out0 and "Final test metrics" in out0
  assert "Done:" not in out1 and "Final test metrics" not in out1


def test_a_process_without_its_partner_stops_with_one_error_line(launches):
  [(rc, _, err)] = _results(launches, "alone")
  assert rc == 2, err[-3000:]
  errors = [line for line in err.splitlines() if line.startswith("error:")]
  assert len(errors) == 1, err[-3000:]
  assert f"localhost:{launches['alone_port']}" in errors[0]
  assert "--initialization_timeout=3" in errors[0]
  assert "Traceback" not in err
  assert not (launches["dirs"]["alone"] / "metrics.jsonl").exists()


def _csv_rows(path) -> list:
  """results.csv's rows, numbers as floats (the machine's cost columns
  left out)."""
  def value(text):
    try:
      return float(text)
    except ValueError:
      return text
  with open(path, newline="") as f:
    return [{k: value(v) for k, v in row.items() if k not in _TIMING}
            for row in csv.DictReader(f)]


def test_two_process_sweep_writes_what_one_process_writes(launches):
  """One cell of configs/table3_mnist_dense.py:quick, 2 seeds (the whole
  quick sweep, 4 cells, was checked alike by hand: 2 x 4 devices against
  1 x 8, results.csv equal to float32 rounding; ~6 min on 2 cores)."""
  _succeeded_results(launches, "sweep_two", "sweep_one")
  two, one = launches["dirs"]["sweep_two"], launches["dirs"]["sweep_one"]
  rows = _csv_rows(two / "results.csv")
  assert len(rows) == 2  # one cell x 2 seeds
  _assert_close(rows, _csv_rows(one / "results.csv"), "results.csv")
  outside = lambda d: sorted(
      os.path.relpath(os.path.join(p, f), d).split("events.out")[0]
      for p, _, names in os.walk(d) for f in names if "checkpoints" not in p)
  assert outside(two) == outside(one)


def test_put_and_to_host_on_one_process_match_device_put():
  """sharding.put lays host data out as jax.device_put does (typed keys
  and arrays already on the sharding included); to_host reads it back."""
  import jax
  import numpy as np
  from ssvae import sharding
  mesh = sharding.make_mesh(2)
  layout = sharding.per_seed_batch(mesh)
  x = np.arange(2 * 8 * 3, dtype=np.float32).reshape(2, 8, 3)
  put = sharding.put({"x": x}, layout)["x"]
  assert put.sharding == layout
  np.testing.assert_array_equal(sharding.to_host(put), x)
  assert sharding.put(put, layout) is put
  keys = jax.random.split(jax.random.key(0), 2)
  put_keys = sharding.put(keys, sharding.per_seed(mesh))
  assert put_keys.sharding == sharding.per_seed(mesh)
  np.testing.assert_array_equal(jax.random.key_data(put_keys),
                                jax.random.key_data(keys))
