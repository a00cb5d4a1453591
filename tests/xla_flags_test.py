"""Tests for ssvae/xla_flags.py."""

import os

import pytest

from ssvae import xla_flags

FLAG = xla_flags.CPU_FLAGS[0]


@pytest.fixture
def no_plugins(monkeypatch):
  monkeypatch.setattr(xla_flags, "accelerator_plugin_installed",
                      lambda: False)


def test_flags_are_appended_to_existing_flags(no_plugins):
  env = {"XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
  assert xla_flags.configure(env) == list(xla_flags.CPU_FLAGS)
  assert env["XLA_FLAGS"] == ("--xla_force_host_platform_device_count=8 "
                              + " ".join(xla_flags.CPU_FLAGS))


def test_flags_are_set_when_there_were_none(no_plugins):
  env = {}
  xla_flags.configure(env)
  assert env["XLA_FLAGS"] == " ".join(xla_flags.CPU_FLAGS)


def test_a_second_call_adds_nothing(no_plugins):
  env = {}
  xla_flags.configure(env)
  assert xla_flags.configure(env) == []
  assert env["XLA_FLAGS"] == " ".join(xla_flags.CPU_FLAGS)


def test_the_users_own_value_of_a_flag_wins(no_plugins):
  name = FLAG.split("=")[0]
  env = {"XLA_FLAGS": f"{name}=individual_dot"}
  assert xla_flags.configure(env) == []
  assert env["XLA_FLAGS"] == f"{name}=individual_dot"


def test_opt_out(no_plugins):
  env = {xla_flags.OPT_OUT_VARIABLE: "0", "XLA_FLAGS": "--a=1"}
  assert xla_flags.configure(env) == []
  assert env["XLA_FLAGS"] == "--a=1"


@pytest.mark.parametrize("platforms", ["cuda", "gpu", "tpu", "cuda,cpu"])
def test_never_on_accelerators(no_plugins, platforms):
  env = {"JAX_PLATFORMS": platforms}
  assert xla_flags.configure(env) == []
  assert "XLA_FLAGS" not in env


def test_cpu_first_counts_as_cpu_even_with_a_plugin(monkeypatch):
  monkeypatch.setattr(xla_flags, "accelerator_plugin_installed", lambda: True)
  env = {"JAX_PLATFORMS": "cpu"}
  assert xla_flags.configure(env) == list(xla_flags.CPU_FLAGS)


def test_unset_platforms_with_a_plugin_is_not_cpu(monkeypatch):
  monkeypatch.setattr(xla_flags, "accelerator_plugin_installed", lambda: True)
  env = {}
  assert xla_flags.configure(env) == []
  assert "XLA_FLAGS" not in env


@pytest.mark.skipif(os.environ.get(xla_flags.OPT_OUT_VARIABLE) == "0",
                    reason="opted out")
def test_importing_ssvae_set_them_in_this_process():
  """conftest.py sets JAX_PLATFORMS=cpu and its own flag before the import."""
  flags = os.environ["XLA_FLAGS"].split()
  assert "--xla_force_host_platform_device_count=8" in flags
  for flag in xla_flags.CPU_FLAGS:
    assert flag in flags


@pytest.mark.parametrize("module", ["experiments.sweep", "experiments.train",
                                    "experiments.detect"])
def test_importing_an_entry_point_starts_no_jax_backend(module):
  """jax.distributed.initialize() (--multihost) must run before any backend
  starts, so no module may compute with jax at import time."""
  import subprocess
  import sys
  code = (f"import {module};"
          "from jax._src import xla_bridge;"
          "assert not xla_bridge.backends_are_initialized(), 'started'")
  proc = subprocess.run([sys.executable, "-c", code], capture_output=True,
                        text=True, timeout=300, cwd=os.path.dirname(
                            os.path.dirname(os.path.abspath(__file__))))
  assert proc.returncode == 0, proc.stderr[-2000:]
