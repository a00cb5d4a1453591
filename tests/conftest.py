"""Test setup: 8 simulated CPU devices, so multi-device code is exercised,
and one XLA compilation cache per test run.

Many tests compile the same tiny programs (the same tiny model, step and
chunk in different tests and in the subprocesses of the CLI tests), so the
run shares JAX's persistent compilation cache: it roughly halved the CPU
time of tests/train_test.py + tests/steps_test.py (BUILD_NOTES). The cache
lives in a fresh temporary directory that this process creates and removes
at the end of the session. The variables are set in the environment before
jax is imported, so pytest-xdist's workers (started after this module is
loaded) and the subprocesses tests start inherit the same directory; a
JAX_COMPILATION_CACHE_DIR already set by the user is used and left alone.
"""

import os
import shutil
import tempfile

import pytest

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                           + " --xla_force_host_platform_device_count=8")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# Tests train sweeps from a development tree, which may have uncommitted
# changes; a real sweep refuses to (experiments/sweep.py --allow_dirty).
os.environ["SSVAE_ALLOW_DIRTY"] = "1"
# Tests that look for data in the known locations must not find a user's.
os.environ.pop("SSVAE_DATA_DIR", None)

_OWN_CACHE_DIR = None
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
  _OWN_CACHE_DIR = tempfile.mkdtemp(prefix="ssvae-tests-xla-cache-")
  os.environ["JAX_COMPILATION_CACHE_DIR"] = _OWN_CACHE_DIR
  os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
  os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"


# Tests marked @pytest.mark.slow (end-to-end runs that repeat what faster
# tests cover, at minutes each on 2 cores) run only with SSVAE_SLOW_TESTS=1.
RUN_SLOW = os.environ.get("SSVAE_SLOW_TESTS") == "1"


def pytest_collection_modifyitems(config, items):
  del config
  if RUN_SLOW:
    return
  skip = pytest.mark.skip(reason="slow end-to-end test: set SSVAE_SLOW_TESTS=1")
  for item in items:
    if "slow" in item.keywords:
      item.add_marker(skip)


def pytest_sessionfinish(session):
  del session
  if _OWN_CACHE_DIR is not None:
    shutil.rmtree(_OWN_CACHE_DIR, ignore_errors=True)
