"""Table 10 from the command README gives, on files laid out as the official
UCI HAR download unzips (the real data cannot be had here).

The folder is tests/synthetic_har.py's learnable signals plus the files of
the release the loader does not read (the 561-feature vectors, subjects,
feature names, README), so the command is run on the whole layout a user
has after unzipping, passing its parent folder as data_dir.
"""

import csv
import json
import os
import subprocess
import sys

import numpy as np

from ssvae.data import uci_har
import synthetic_har

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NUM_FEATURES = 561  # the release's X_train.txt / X_test.txt columns


def write_official_layout(base_dir):
  """synthetic_har's files plus the release's other files; returns the
  parent of 'UCI HAR Dataset' (what one passes as data_dir)."""
  synthetic_har.write_synthetic_har(base_dir)
  root = base_dir / uci_har.FOLDER_NAME
  gen = np.random.default_rng(1)
  (root / "README.txt").write_text("Human Activity Recognition Using "
                                   "Smartphones Dataset (synthetic copy)\n")
  (root / "features_info.txt").write_text("Feature Selection\n")
  (root / "features.txt").write_text("".join(
      f"{i} feature-{i}\n" for i in range(1, NUM_FEATURES + 1)))
  for split in uci_har.SPLITS:
    rows = len((root / split / f"y_{split}.txt").read_text().split())
    np.savetxt(root / split / f"X_{split}.txt",
               gen.uniform(-1, 1, (rows, NUM_FEATURES)), fmt="%.7e")
    (root / split / f"subject_{split}.txt").write_text(
        "".join(f"{1 + i % 30}\n" for i in range(rows)))
  return base_dir


def test_table10_quick_runs_end_to_end_from_the_readme_command(tmp_path):
  data_dir = write_official_layout(tmp_path / "download")
  workdir = tmp_path / "table10"
  args = ["--config=configs/table10_uci_har_rnn.py:quick",
          f"--workdir={workdir}", f"--config.base.data.data_dir={data_dir}"]
  env = dict(os.environ, XLA_FLAGS="", JAX_PLATFORMS="cpu")
  proc = subprocess.run([sys.executable, "-m", "experiments.sweep", *args],
                        cwd=REPO, env=env, capture_output=True, text=True,
                        timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  cells = ["variant=semi_supervised,num_labels=6",
           "variant=semi_supervised,num_labels=12",
           "variant=supervised,num_labels=6",
           "variant=supervised,num_labels=12"]
  for cell in cells:
    assert f"] {cell}: accuracy=" in proc.stdout, proc.stdout[-2000:]
    results = json.loads((workdir / "runs" / cell / "results.json").read_text())
    assert results["stop_reason"] and results["step"] == 10
    accuracy = results["metrics"]["accuracy"]
    assert len(accuracy) == 2 and all(0.0 <= a <= 1.0 for a in accuracy)
    config = json.loads((workdir / "runs" / cell / "config.json").read_text())
    assert config["data"]["name"] == "uci_har"
    assert config["data"]["data_dir"] == str(data_dir)
  # The loader read the release's 60 training windows (10 per activity, 10%
  # held out for validation) and 12 test windows, not the feature vectors.
  log = proc.stderr + proc.stdout
  assert "Data uci_har" in log and "validation" in log
  with open(workdir / "results.csv") as f:
    rows = list(csv.DictReader(f))
  assert sorted({r["cell"] for r in rows}) == sorted(cells)
  assert len(rows) == len(cells) * 2
  markdown = (workdir / "results.md").read_text()
  assert markdown.startswith("# Table 10 (UCI HAR, RNN)")
  assert "[quick]" in markdown and "pending" not in markdown
  assert os.path.getsize(workdir / "accuracy_vs_labels.png") > 1000
