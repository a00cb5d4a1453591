"""Runs examples/bring_your_own_model.py, so the example cannot rot."""

import os
import re
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_bring_your_own_model_trains_a_classifier_from_100_labels():
  env = dict(os.environ, XLA_FLAGS="", JAX_PLATFORMS="cpu")
  proc = subprocess.run(
      [sys.executable, "examples/bring_your_own_model.py", "--num_steps=300"],
      cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-2000:]
  match = re.search(r"test accuracy: ([0-9.]+) \(297 test digits; 100 of "
                    r"1500 training digits labeled\)", proc.stdout)
  assert match, proc.stdout
  assert float(match.group(1)) > 0.5  # chance is 0.1
