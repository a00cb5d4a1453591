"""XLA:CPU flags the library sets for CPU runs, before jax starts a backend.

XLA reads XLA_FLAGS once, when jax initialises its first backend (at the
first computation or jax.devices() call, not at `import jax`), so
`configure()` runs first thing in `ssvae/__init__.py`: importing ssvae, as
every entry point does, sets them. It appends CPU_FLAGS to XLA_FLAGS:

  --xla_cpu_experimental_ynn_fusion_type=individual_dot,reduce
      Sends matmuls and reductions to YNNPACK but no longer convolutions,
      which then run in XLA's Eigen kernels. YNNPACK's convolution
      gradients are several times slower here (BUILD_NOTES, "CNN speed").

only when the run will be on the CPU: JAX_PLATFORMS names cpu first, or is
unset and no accelerator plugin (CUDA, ROCm, TPU) is installed. Flags
already in XLA_FLAGS are kept, and a flag the user set there wins over ours.
SSVAE_XLA_CPU_FLAGS=0 in the environment turns this off.
"""

import importlib.metadata
import importlib.util
import logging
import os
import sys
from typing import MutableMapping

CPU_FLAGS = (
    "--xla_cpu_experimental_ynn_fusion_type=individual_dot,reduce",
)

# Set to 0 to keep XLA's own defaults.
OPT_OUT_VARIABLE = "SSVAE_XLA_CPU_FLAGS"

# Modules whose presence makes jax pick an accelerator by default.
_ACCELERATOR_MODULES = ("jax_cuda12_plugin", "jax_cuda13_plugin",
                        "jax_rocm60_plugin", "jax_rocm7_plugin", "libtpu")


def accelerator_plugin_installed() -> bool:
  """Whether jax would find an accelerator plugin (by default it prefers one
  to the CPU)."""
  if any(importlib.util.find_spec(name) is not None
         for name in _ACCELERATOR_MODULES):
    return True
  return bool(importlib.metadata.entry_points(group="jax_plugins"))


def cpu_run(environ: MutableMapping[str, str]) -> bool:
  """Whether jax's default backend will be the CPU."""
  platforms = environ.get("JAX_PLATFORMS", "").strip()
  if platforms:
    return platforms.split(",")[0].strip().lower() == "cpu"
  return not accelerator_plugin_installed()


def _flag_name(flag: str) -> str:
  return flag.split("=", 1)[0]


def _backend_started() -> bool:
  if "jax" not in sys.modules:
    return False
  try:
    from jax._src import xla_bridge  # pylint: disable=g-import-not-at-top
    return xla_bridge.backends_are_initialized()
  except (ImportError, AttributeError):
    return False


def configure(environ: MutableMapping[str, str] = os.environ) -> list[str]:
  """Appends the CPU_FLAGS not already named in XLA_FLAGS, for CPU runs.

  Returns the flags added (none when opted out, not a CPU run, or all
  already set).
  """
  if environ.get(OPT_OUT_VARIABLE, "1").strip() == "0":
    return []
  if not cpu_run(environ):
    return []
  existing = environ.get("XLA_FLAGS", "")
  named = {_flag_name(f) for f in existing.split()}
  added = [f for f in CPU_FLAGS if _flag_name(f) not in named]
  if not added:
    return []
  if environ is os.environ and _backend_started():
    logging.warning(
        "ssvae: jax's backend started before ssvae was imported, so XLA "
        "ignores %s; import ssvae first or set XLA_FLAGS yourself.",
        " ".join(added))
  environ["XLA_FLAGS"] = " ".join(filter(None, [existing.strip(), *added]))
  return added
