"""The package's import graph: no cycles, and layers that import down.

Layers (function-level imports included), lowest first: the core (ssvae.*
outside the layers below: models, data, losses, steps, experiment, sharding,
run_dir, ...), ssvae.metrics (metrics of a trained state), ssvae.train (a
run's life: the loop, train_and_evaluate), then the wings: ssvae.sweep (a
table's grid, runner, ledger and figures), ssvae.reports (figures and
reports of trained runs and sweeps) and ssvae.detect (the anomaly detector
and its feedback). A module may import its own layer and the layers below
it, never above.
"""

import ast
import os
import pathlib
import subprocess
import sys

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "ssvae"


def module_name(path: pathlib.Path) -> str:
  parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
  return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: pathlib.Path, known: set) -> set:
  """The ssvae modules `path` imports anywhere in its body."""
  found = set()
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.Import):
      names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
      # `from pkg import mod` imports the module; `from pkg import name`
      # imports pkg (its __init__).
      names = [f"{node.module}.{a.name}"
               if f"{node.module}.{a.name}" in known else node.module
               for a in node.names]
    else:
      continue
    found |= {n for n in names if n in known}
  return found


def import_graph() -> dict:
  paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
  known = set(paths)
  return {name: imported_modules(path, known) - {name}
          for name, path in paths.items()}


def find_cycle(graph: dict):
  """One cycle as a list of modules, or None (depth-first search)."""
  state = {}  # module -> "active" | "done"
  def visit(node, trail):
    state[node] = "active"
    for nxt in sorted(graph[node]):
      if state.get(nxt) == "active":
        return trail[trail.index(nxt):] + [nxt]
      if nxt not in state:
        cycle = visit(nxt, trail + [nxt])
        if cycle:
          return cycle
    state[node] = "done"
    return None
  for start in sorted(graph):
    if start not in state:
      cycle = visit(start, [start])
      if cycle:
        return cycle
  return None


def test_finds_a_planted_cycle():
  assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c",
                                                               "a"]
  assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_package_import_graph_has_no_cycle():
  graph = import_graph()
  assert "ssvae.train" in graph and "ssvae.data.idx" in graph
  # The top-level package only re-exports; leave it out.
  cycle = find_cycle({k: v - {"ssvae"} for k, v in graph.items()
                      if k != "ssvae"})
  assert cycle is None, " -> ".join(cycle)


# Each imports only those before it.
LAYERS = ("core", "metrics", "train", "sweep", "reports", "detect")


def layer(module: str) -> str:
  parts = module.split(".")
  return parts[1] if len(parts) > 1 and parts[1] in LAYERS[1:] else "core"


def upward_imports(graph: dict) -> list:
  """(importer, imported) pairs where a lower layer imports a higher one."""
  return sorted((a, b) for a, imports in graph.items() for b in imports
                if LAYERS.index(layer(b)) > LAYERS.index(layer(a)))


def test_finds_a_planted_upward_import():
  assert upward_imports({"ssvae.metrics.anomaly": {"ssvae.train"},
                         "ssvae.train": {"ssvae.losses"}}) == [
                             ("ssvae.metrics.anomaly", "ssvae.train")]
  assert upward_imports({"ssvae.steps": {"ssvae.metrics.anomaly"}}) == [
      ("ssvae.steps", "ssvae.metrics.anomaly")]
  assert upward_imports({"ssvae.sweep.plots": {"ssvae.reports.curves"}}) == [
      ("ssvae.sweep.plots", "ssvae.reports.curves")]
  assert upward_imports({"ssvae.reports.curves": {"ssvae.detect.detector"}}
                        ) == [("ssvae.reports.curves", "ssvae.detect.detector")]


def test_layers_import_downwards_only():
  graph = import_graph()
  layers = {layer(m) for m in graph}
  assert layers == set(LAYERS), layers
  assert layer("ssvae.sweep.runner") == "sweep"
  assert layer("ssvae.detect.detector") == "detect"
  assert layer("ssvae.metrics.anomaly") == "metrics"
  assert layer("ssvae.train") == "train"
  assert layer("ssvae.reports.generation") == "reports"
  assert layer("ssvae.data.sampler") == layer("ssvae.sharding") == "core"
  bad = upward_imports(graph)
  assert not bad, "; ".join(f"{a} imports {b}" for a, b in bad)


def test_core_does_not_import_the_wings_at_run_time():
  """The same, as Python sees it: importing the core loads no upper layer."""
  code = ("import sys; import ssvae, ssvae.train, ssvae.models, ssvae.data; "
          "print(sorted(m for m in sys.modules "
          "if m.startswith(('ssvae.sweep', 'ssvae.reports', "
          "'ssvae.detect'))))")
  out = subprocess.run([sys.executable, "-c", code], check=True,
                       capture_output=True, text=True,
                       cwd=PACKAGE.parent,
                       env={**os.environ,
                            "JAX_PLATFORMS": "cpu"}).stdout
  assert out.strip() == "[]", out
