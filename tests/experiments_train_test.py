"""Tests for the `python -m experiments.train` entry point."""

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_train(workdir, *overrides):
  env = dict(os.environ, XLA_FLAGS="", JAX_PLATFORMS="cpu")
  return subprocess.run(
      [sys.executable, "-m", "experiments.train",
       "--config=configs/default.py", f"--workdir={workdir}", *overrides],
      cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def test_cli_trains_with_overrides_and_writes_results(tmp_path):
  proc = run_train(tmp_path, "--config.train.num_steps=10",
                   "--config.train.steps_per_call=5",
                   "--config.model.hidden_sizes=(16,)",
                   "--config.data.num_labels=20")
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert "Final test metrics" in proc.stdout
  results = json.load(open(tmp_path / "results.json"))
  assert results["step"] == 10 and results["num_labeled"] == 20
  config = json.load(open(tmp_path / "config.json"))
  assert config["model"]["hidden_sizes"] == [16]


def test_cli_bad_config_value_fails_at_start_naming_the_field(tmp_path):
  proc = run_train(tmp_path, "--config.model.family=transformer")
  assert proc.returncode != 0
  assert "config.model.family" in proc.stderr
  assert "Traceback" not in proc.stderr
  assert not os.path.exists(tmp_path / "checkpoints")


def test_cli_unknown_field_is_rejected(tmp_path):
  proc = run_train(tmp_path, "--config.model.familly=dense")
  assert proc.returncode != 0
  assert "familly" in proc.stderr


def test_cli_diverged_run_names_the_run_without_a_traceback(tmp_path):
  proc = run_train(tmp_path, "--config.optimizer.learning_rate=1e30",
                   "--config.train.num_steps=10",
                   "--config.train.steps_per_call=5",
                   "--config.model.hidden_sizes=(16,)")
  assert proc.returncode != 0
  assert "Training diverged. Non-finite loss at step" in proc.stderr
  assert f"Run {tmp_path} stopped" in proc.stderr
  assert "Traceback" not in proc.stderr


def test_a_run_in_a_path_with_url_characters_resumes(tmp_path):
  """'%20', '#', '?', spaces and non-ASCII once made intact checkpoints read
  as damaged (the path went through a file:// URL)."""
  workdir = tmp_path / "run %20 #1 100%" / "a?b=c ü"
  steps = ("--config.train.steps_per_call=10", "--config.train.eval_every=10",
           "--config.train.checkpoint_every=10",
           "--config.model.hidden_sizes=(16,)")
  first = run_train(workdir, "--config.train.num_steps=20", *steps)
  assert first.returncode == 0, first.stderr[-2000:]
  second = run_train(workdir, "--config.train.num_steps=40", *steps)
  assert second.returncode == 0, second.stderr[-2000:]
  assert "damaged" not in second.stderr
  assert f"Resuming {workdir} from step 20" in second.stderr
  assert json.load(open(workdir / "results.json"))["step"] == 40
