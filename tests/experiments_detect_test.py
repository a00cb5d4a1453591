"""Tests for the `python -m experiments.detect` entry point."""

import csv
import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from configs import common
from configs import default
from ssvae import train

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
  """A short run on digits without the digit 0, and its test split as .npy."""
  config = common.tiny(default.base_config())
  config.data.num_labels = 90
  config.data.held_out_class = 0
  config.train.num_steps = 20
  config.train.steps_per_call = 10
  config.train.eval_every = 20
  config.train.checkpoint_every = 20
  root = tmp_path_factory.mktemp("detect_cli")
  workdir = str(root / "run")
  exp = train.train(config, workdir, devices=jax.devices()[:1]).exp
  data = str(root / "test.npy")
  np.save(data, exp.dataset.test.x)
  return workdir, data, len(exp.dataset.test.x)


def detect(*flags):
  env = dict(os.environ, XLA_FLAGS="", JAX_PLATFORMS="cpu")
  return subprocess.run([sys.executable, "-m", "experiments.detect", *flags],
                        cwd=REPO, env=env, capture_output=True, text=True,
                        timeout=300)


def read_csv(path):
  return list(csv.DictReader(open(path)))


def assert_one_error_line(proc, message):
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert "Traceback" not in proc.stderr
  lines = [l for l in proc.stderr.splitlines() if l.startswith("error: ")]
  assert len(lines) == 1 and message in lines[0], proc.stderr[-2000:]


def test_threshold_is_saved_reused_and_feedback_fine_tunes(run, tmp_path):
  workdir, data, num_points = run
  out = str(tmp_path / "scores.csv")
  first = detect(f"--workdir={workdir}", f"--data={data}", f"--out={out}",
                 "--target_fpr=0.1")
  assert first.returncode == 0, first.stderr[-2000:]
  assert "Saved threshold" in first.stdout
  saved = json.load(open(os.path.join(workdir, "detector.json")))
  assert saved["threshold"]["rule"] == "target_fpr"
  rows = read_csv(out)
  assert len(rows) == num_points
  assert list(rows[0]) == ["index", "score", "flag", "predicted_class"]

  second = detect(f"--workdir={workdir}", f"--data={data}",
                  f"--out={tmp_path / 'again.csv'}")
  assert second.returncode == 0, second.stderr[-2000:]
  assert "Using the saved threshold" in second.stdout
  assert read_csv(tmp_path / "again.csv") == rows

  flagged = [int(r["index"]) for r in rows if r["flag"] == "1"]
  feedback_csv = tmp_path / "feedback.csv"
  feedback_csv.write_text(f"index,label\n{flagged[0]},false_positive\n"
                          "3,false_negative\n")
  tuned = detect(f"--workdir={workdir}", f"--data={data}",
                 f"--out={tmp_path / 'tuned.csv'}",
                 f"--feedback={feedback_csv}", "--finetune_steps=10")
  assert tuned.returncode == 0, tuned.stderr[-2000:]
  assert "Fine-tuning on 2 feedback labels" in tuned.stdout
  tuned_rows = read_csv(tmp_path / "tuned.csv")
  assert list(tuned_rows[0])[-3:] == ["raw_score", "p_false_positive",
                                      "p_false_negative"]
  saved = json.load(open(os.path.join(workdir, "detector.json")))
  assert saved["feedback"]["num_false_positive"] == 1


def test_bad_inputs_end_with_one_error_line(run, tmp_path):
  workdir, _, _ = run
  objects = str(tmp_path / "objects.npy")
  np.save(objects, np.array([{"a": 1}], dtype=object), allow_pickle=True)
  assert_one_error_line(detect(f"--workdir={workdir}", f"--data={objects}"),
                        "pickled object array, which is refused")
  wrong = str(tmp_path / "wrong.npy")
  np.save(wrong, np.zeros((2, 28, 28), np.float32))
  assert_one_error_line(detect(f"--workdir={workdir}", f"--data={wrong}"),
                        "the model takes [N, 8, 8, 1]")


def test_first_call_without_a_threshold_says_how_to_set_one(tmp_path, run):
  workdir, data, _ = run
  proc = detect(f"--workdir={workdir}", f"--data={data}", "--state=last",
                f"--out={tmp_path / 'x.csv'}")
  assert_one_error_line(proc, "has no saved threshold for this state and "
                        "seed: pass --target_fpr")
