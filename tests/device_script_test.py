"""scripts/device_tables.sh --dry_run (the device call's program on CPU, on
the :quick configs) and scripts/merge_device_results.sh on what it returns.

The dry run is the device program at another size, so the script cannot
rot before a device is lent: set-up, timing with the benchmarks, the tables
in order as shards side by side, finished cells packed into $OUT, the
summary. Its --results and $OUT are temporary; the real results/ is never
touched.
"""

import json
import os
import re
import subprocess
import tarfile

import pytest

from experiments import device_results
from ssvae.sweep import grid

# The dry run trains every CNN table's quick cell and both benchmarks (about
# 4 minutes of 2 cores): run before a device call, with SSVAE_SLOW_TESTS=1.
pytestmark = pytest.mark.slow

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TABLES = ("table3_mnist_cnn", "table4_mnist_cnn", "table7_fashion_mnist_cnn",
          "table8_fashion_mnist_cnn")
# The dry run's default --only: one cell per table.
DRY_RUN_ONLY = re.compile(r"^variant=supervised(,num_labels=100)?$")
SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")  # what $OUT can return


def quick_cells(table):
  config = device_results._load_config(f"configs/{table}.py:quick")
  return [c.name for c in grid.check_sweep(config)]


def archive_files(path):
  with tarfile.open(path, "r:gz") as tar:
    return {m.name: tar.extractfile(m).read() for m in tar.getmembers()
            if m.isfile()}


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
  tmp = tmp_path_factory.mktemp("device")
  out, results = tmp / "out", tmp / "results"
  env = dict(os.environ, OUT=str(out), XLA_FLAGS="", JAX_PLATFORMS="cpu")
  proc = subprocess.run(
      # A budget that a loaded 2-core machine meets too (the default, 600
      # s, is for an idle one; a cut-off table would fail the checks).
      ["bash", "scripts/device_tables.sh", "--dry_run", "--budget_s=840",
       f"--results={results}"], cwd=REPO, env=env, capture_output=True,
      text=True, timeout=900)
  return proc, out, results, tmp


def test_dry_run_exits_0_after_timing_and_every_table(dry_run):
  proc, out, _, _ = dry_run
  assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
  stdout = proc.stdout
  assert "timing: CNN and dense steps" in stdout
  # Each benchmark prints its result line, or says it hit --timing_s (on 2
  # loaded cores the tiny CNN benchmark's workers compile for minutes).
  for name in ("cnn", "dense"):
    lines = [l for l in stdout.splitlines() if l.startswith(f"[timing {name}]")]
    assert lines, name
    assert any(re.search(r"examples_per_s=[0-9.]+", l) or "stopped at the" in l
               for l in lines), lines
  # The summary gives every finished cell's rate, so a call always ends
  # with parsable examples_per_s lines, benchmark results or not.
  rates = [float(m) for m in re.findall(r"examples_per_s=([0-9.]+)", stdout)]
  assert rates and all(r > 0 for r in rates), stdout[-3000:]
  assert len(re.findall(r"^cell \S+: .*cell_examples_per_s=", stdout,
                        re.M)) == len(TABLES)
  # The tables in the order, each started after the previous one.
  positions = [stdout.index(f"{t}: 1 job(s) side by side") for t in TABLES]
  assert positions == sorted(positions)
  assert stdout.index("[timing dense]") < positions[0]
  assert re.search(r"== \[\d+ s\] done in \d+ s\n", stdout)
  assert (out / "device_tables.log").read_text().strip().endswith(
      stdout.strip().splitlines()[-1])


def test_every_finished_cell_is_in_out_with_its_small_files(dry_run):
  proc, out, results, _ = dry_run
  assert proc.returncode == 0
  names = sorted(os.listdir(out))
  # What the device tool returns: at most 8 files, plain names, no folders.
  assert len(names) <= 8 and all(SAFE_NAME.match(n) for n in names), names
  assert all((out / n).is_file() for n in names)
  for table in TABLES:
    cells = [c for c in quick_cells(table) if DRY_RUN_ONLY.search(c)]
    finished = device_results.finished_cell_dirs(str(results), table)
    assert sorted(finished) == sorted(cells), table
    files = archive_files(out / device_results.archive_name(table))
    manifest = json.loads(files[f"{table}/{device_results.MANIFEST}"])
    assert manifest["config"] == f"configs/{table}.py:quick"
    assert manifest["cells"] == sorted(cells)
    for cell in cells:
      for name in ("config.json", "metrics.jsonl", "results.json"):
        arcname = f"{table}/runs/{cell}/{name}"
        assert files[arcname] == (results / table / "runs" / cell /
                                  name).read_bytes()
    assert not [n for n in files if "checkpoint" in n or "tensorboard" in n]
    assert any(n.startswith(f"{table}/{device_results.LOGS}/") for n in files)


def merge(source, root):
  return subprocess.run(
      ["bash", "scripts/merge_device_results.sh", str(source), str(root)],
      cwd=REPO, env=dict(os.environ, XLA_FLAGS="", JAX_PLATFORMS="cpu"),
      capture_output=True, text=True, timeout=600)


def test_merge_writes_the_cells_and_ledgers_idempotently_and_refuses_others(
    dry_run):
  proc, out, results, tmp = dry_run
  assert proc.returncode == 0
  root = tmp / "merged_results"
  first = merge(out, root)
  assert first.returncode == 0, first.stderr[-3000:]
  for table in TABLES:
    cells = quick_cells(table)
    done = [c for c in cells if DRY_RUN_ONLY.search(c)]
    for cell in done:
      for name in ("config.json", "metrics.jsonl", "results.json"):
        assert (root / table / "runs" / cell / name).read_bytes() == (
            results / table / "runs" / cell / name).read_bytes()
      assert f"merged {table}/{cell}" in first.stdout
    # The status-only ledger lists the merged cells, the others pending.
    ledger = json.loads((root / table / "results.json").read_text())
    pending = {c["name"]: c["pending"] for c in ledger["cells"]}
    assert pending == {c: c not in done for c in cells}, table
    assert (f"--config=configs/{table}.py:quick --workdir={root / table}"
            in (root / table / "results.md").read_text())
  # Again: nothing changes.
  before = {p: p.read_bytes() for p in root.rglob("runs/*/*")}
  second = merge(out, root)
  assert second.returncode == 0, second.stderr[-3000:]
  assert "merged " not in second.stdout
  assert second.stdout.count("already there (identical)") == len(before) // 3
  assert {p: p.read_bytes() for p in root.rglob("runs/*/*")} == before
  # A finished cell with other results is never overwritten: nothing merges.
  table = TABLES[0]
  cell = next(c for c in quick_cells(table) if DRY_RUN_ONLY.search(c))
  changed = root / table / "runs" / cell / "results.json"
  changed.write_text(changed.read_text().replace('"step"', '"step" ', 1))
  third = merge(out, root)
  assert third.returncode == 2
  assert "nothing merged" in third.stderr and cell in third.stderr
