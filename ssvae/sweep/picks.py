"""The best cell of each group of a sweep's ledger, chosen on validation.

A search sweep (configs/recipe_search.py) varies some axes (the optimizer
reading, the learning rate) within groups fixed by others (the variant, the
label count). `pick_best` reads the sweep's results.json and returns, per
group, the finished cell with the best mean of one validation metric; test
metrics are reported beside it and play no part. Diverged cells are never
picked; a group with pending cells is marked incomplete, since its pick may
still change.
"""

import dataclasses
from typing import Optional, Sequence

from ssvae import errors

# Metrics where lower is better; every other one is maximized.
LOWER_IS_BETTER = ("log_loss", "reconstruction", "kl")


@dataclasses.dataclass(frozen=True)
class Pick:
  group: dict  # axis name -> value shared by the group's cells
  best: Optional[dict]  # the chosen cell of results.json; None if none
  num_cells: int
  num_pending: int
  num_diverged: int

  @property
  def complete(self) -> bool:
    return self.num_pending == 0


def higher_is_better(metric: str) -> bool:
  name = metric.split("_", 1)[1] if metric.startswith(("val_", "last_")) \
      else metric
  return name not in LOWER_IS_BETTER


def _check(ledger: dict, by: Sequence[str], metric: str, where: str) -> None:
  if "cells" not in ledger or "axes" not in ledger:
    raise errors.UserInputError(
        f"{where} is not a sweep's results.json (no 'cells' or 'axes').")
  unknown = [axis for axis in by if axis not in ledger["axes"]]
  if unknown:
    raise errors.UserInputError(
        f"--by names {unknown}, not axes of {where} ({ledger['axes']}).")
  if not metric.startswith("val_"):
    raise errors.UserInputError(
        f"--metric={metric!r}: picks are made on validation metrics only "
        "(val_*), never on test metrics.")


def pick_best(ledger: dict, by: Sequence[str], metric: str = "val_accuracy",
              where: str = "results.json") -> list[Pick]:
  """Per group of cells sharing the axes `by` (in first-seen order): the
  finished cell with the best mean `metric`; ties keep the earlier cell."""
  _check(ledger, by, metric, where)
  sign = 1.0 if higher_is_better(metric) else -1.0
  groups: dict[tuple, list[dict]] = {}
  for cell in ledger["cells"]:
    key = tuple((axis, cell["axes"][axis]) for axis in by)
    groups.setdefault(key, []).append(cell)
  picks = []
  for key, cells in groups.items():
    scored = [c for c in cells if not c["pending"] and not c.get("diverged")
              and metric in c["stats"]]
    best = max(scored, key=lambda c: sign * c["stats"][metric]["mean"],
               default=None)
    picks.append(Pick(group=dict(key), best=best, num_cells=len(cells),
                      num_pending=sum(c["pending"] for c in cells),
                      num_diverged=sum(bool(c.get("diverged"))
                                       for c in cells)))
  return picks


def _stats(cell: dict, metric: str) -> str:
  s = cell["stats"].get(metric)
  if s is None:
    return "—"
  return f"{s['mean']:.4f}" + (f" ± {s['std']:.4f}" if s["n"] > 1 else "")


def picks_markdown(picks: Sequence[Pick], ledger: dict, metric: str,
                   show: Sequence[str] = ("accuracy",)) -> str:
  """One row per group: its pick's varied axes, `metric` and `show`."""
  by = list(picks[0].group) if picks else []
  varied = [a for a in ledger["axes"] if a not in by]
  lines = [f"# Picks of {ledger.get('title', 'a sweep')}", "",
           f"- Chosen on {metric} (mean over seeds; "
           f"{'higher' if higher_is_better(metric) else 'lower'} is better); "
           f"{', '.join(show)} shown beside it, not used. Diverged cells are "
           "never picked.",
           "- A group with pending cells is `incomplete`: its pick may "
           "change.", "",
           "| " + " | ".join([*by, "status", *varied, metric, *show]) + " |",
           "|" + "---|" * (len(by) + 1 + len(varied) + 1 + len(show))]
  for pick in picks:
    status = ("complete" if pick.complete else
              f"incomplete ({pick.num_pending} of {pick.num_cells} pending)")
    if pick.num_diverged:
      status += f", {pick.num_diverged} diverged"
    values = [str(pick.group[a]) for a in by] + [status]
    if pick.best is None:
      values += ["—"] * (len(varied) + 1 + len(show))
    else:
      values += [str(pick.best["axes"][a]) for a in varied]
      values += [_stats(pick.best, m) for m in (metric, *show)]
    lines.append("| " + " | ".join(values) + " |")
  return "\n".join(lines) + "\n"
