"""The package's import graph: no cycles (function-level imports included)."""

import ast
import pathlib

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
  assert "ssvae.evaluation" in graph and "ssvae.data.idx" in graph
  # The top-level package only re-exports; leave it out.
  cycle = find_cycle({k: v - {"ssvae"} for k, v in graph.items()
                      if k != "ssvae"})
  assert cycle is None, " -> ".join(cycle)
