"""Paired comparison of two values of one axis of a sweep's ledger.

The cells of a table that differ only in `variant` train the same seeds on
the same labeled points (a seed fixes its labeled subset and its validation
split is the data's), so the fair test of "the paper's model beats its
sibling" is paired: per seed, the difference a - b, then its mean, sample
standard deviation, the seeds a wins, and the two-sided paired t-test
(scipy.stats.ttest_rel). A group is one value of every other axis (e.g. a
label count); a group whose two cells do not both have every seed finished
is reported as pending.
"""

import dataclasses
import math
from typing import Optional, Sequence

import numpy as np
from scipy import stats as scipy_stats

from ssvae import errors
from ssvae.sweep import grid

# Metrics for which smaller is better, also as val_* and last_* (the paired
# difference is a - b either way).
SMALLER_IS_BETTER = ("log_loss", "reconstruction", "kl")


def smaller_is_better(metric: str) -> bool:
  for prefix in ("val_", "last_"):
    metric = metric.removeprefix(prefix)
  return metric in SMALLER_IS_BETTER


@dataclasses.dataclass(frozen=True)
class PairedGroup:
  group: dict            # the other axes' values
  metric: str
  differences: tuple     # per seed, a - b, in seed order; () when pending
  p_value: Optional[float] = None

  @property
  def pending(self) -> bool:
    return not self.differences

  @property
  def wins(self) -> int:
    """Seeds on which a is better than b."""
    sign = -1 if smaller_is_better(self.metric) else 1
    return sum(1 for d in self.differences if sign * d > 0)


def _per_seed(runs: Sequence[dict], cell: str, metric: str) -> dict:
  return {r["seed"]: r[metric] for r in runs
          if r["cell"] == cell and r.get(metric) is not None}


def paired_groups(ledger: dict, axis: str, a, b, metric: str,
                  where: str = "the ledger") -> list[PairedGroup]:
  """One PairedGroup per value of the other axes, in the ledger's order."""
  if axis not in ledger["axes"]:
    raise errors.UserInputError(
        f"--axis={axis}: not an axis of {where} ({ledger['axes']}).")
  cells = ledger["cells"]
  values = {grid.format_value(c["axes"][axis]) for c in cells}
  for given in (a, b):
    if given not in values:
      raise errors.UserInputError(
          f"{axis}={given}: no such cell in {where} (its values: "
          f"{sorted(values)}).")
  if metric not in ledger["metrics"]:
    raise errors.UserInputError(
        f"--metric={metric}: not a metric of {where} ({ledger['metrics']}).")
  others = [k for k in ledger["axes"] if k != axis]
  by_group: dict = {}
  for cell in cells:
    key = tuple(grid.format_value(cell["axes"][k]) for k in others)
    side = grid.format_value(cell["axes"][axis])
    if side in (a, b):
      by_group.setdefault(key, {})[side] = cell
  groups = []
  for key, pair in by_group.items():
    group = dict(zip(others, key))
    if len(pair) < 2 or any(c["pending"] or c.get("diverged")
                            for c in pair.values()):
      groups.append(PairedGroup(group, metric, ()))
      continue
    va = _per_seed(ledger["runs"], pair[a]["name"], metric)
    vb = _per_seed(ledger["runs"], pair[b]["name"], metric)
    seeds = sorted(set(va) & set(vb))
    if set(va) != set(vb) or not seeds:
      groups.append(PairedGroup(group, metric, ()))
      continue
    differences = tuple(float(va[s] - vb[s]) for s in seeds)
    p_value = None
    if len(seeds) > 1 and np.std(differences) > 0:
      p_value = float(scipy_stats.ttest_rel(
          [va[s] for s in seeds], [vb[s] for s in seeds]).pvalue)
    groups.append(PairedGroup(group, metric, differences, p_value))
  return groups


def _row(g: PairedGroup) -> list[str]:
  where = ", ".join(f"{k}={v}" for k, v in g.group.items()) or "all"
  if g.pending:
    return [where, "pending", "", "", ""]
  d = np.asarray(g.differences)
  sd = f" ± {d.std(ddof=1):.4f}" if d.size > 1 else ""
  p = "—" if g.p_value is None or math.isnan(g.p_value) else f"{g.p_value:.3g}"
  return [where, f"{d.mean():+.4f}{sd}", str(d.size), f"{g.wins}/{d.size}", p]


def paired_markdown(groups: Sequence[PairedGroup], axis: str, a, b,
                    ledger_path: str) -> str:
  metric = groups[0].metric if groups else ""
  better = "lower" if smaller_is_better(metric) else "higher"
  lines = [f"# Paired difference: {axis}={a} minus {axis}={b}, {metric}", "",
           f"From `{ledger_path}`. Per seed (the same labeled points and "
           f"split for both), {metric} of {a} minus that of {b}: mean ± "
           f"sample std over seeds, the seeds on which {a} is better "
           f"({better} {metric}), and the two-sided paired t-test's p.", "",
           "| group | difference | n | wins | p |", "|---|---|---|---|---|"]
  lines += ["| " + " | ".join(_row(g)) + " |" for g in groups]
  return "\n".join(lines) + "\n"
