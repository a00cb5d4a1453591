"""Reports of the unlabeled-data study: the diagnosis and the comparisons.

Reads the cells of configs/unlabeled_diagnosis_mnist.py from a sweep
workdir (finished or still running): accuracy against step for the paper's
model at each latent size, the supervised sibling, each remedy and M2, and
the training diagnostics of ssvae.steps (entry point:
experiments/unlabeled_diagnosis_report.py). comparison_markdown turns the
ledger of configs/semi_supervised_*.py into rows x label counts, with
quoted reference rows marked (experiments/comparison_report.py).
"""

import os
from typing import Sequence

import numpy as np

from ssvae import errors
from ssvae import io_utils
from ssvae.reports import curves
from ssvae.sweep import ledger as ledger_lib

DIAGNOSTICS = ("unlabeled_entropy", "unlabeled_confidence",
               "y_reconstruction_gain", "z_reconstruction_gain")


def cell_label(config: dict) -> str:
  """A short name of a diagnosis cell from its config.json."""
  model, loss = config["model"], config["loss"]
  if model["variant"] == "supervised":
    return "supervised sibling"
  name = "M2" if model["variant"] == "m2" else "paper"
  label = f"{name}, latent {model['latent_dim']}"
  if model.get("decoder_y", "softmax") != "softmax":
    label += f", decoder_y={model['decoder_y']}"
  if loss.get("unlabeled_entropy_weight", 0.0):
    label += f", entropy x{loss['unlabeled_entropy_weight']:g}"
  return label


def _has_evaluation(metrics_path: str) -> bool:
  return any(record.get("split") in curves.EVAL_SPLITS
             for _, record in io_utils.read_records(metrics_path))


def load_cells(workdir: str) -> dict:
  """{label: run_dir} of every cell that has logged an evaluation (a cell
  that has just started, with train records only, is left out)."""
  runs = os.path.join(workdir, ledger_lib.RUNS_DIR)
  if not os.path.isdir(runs):
    raise errors.RunNotFoundError(
        f"{runs} not found: is {workdir} a sweep's workdir?")
  cells = {}
  for name in sorted(os.listdir(runs)):
    run_dir = os.path.join(runs, name)
    metrics_path = os.path.join(run_dir, "metrics.jsonl")
    if os.path.exists(metrics_path) and _has_evaluation(metrics_path):
      config = io_utils.read_json(os.path.join(run_dir, "config.json"))
      cells[cell_label(config)] = run_dir
  return cells


def _pick(cells: dict, wanted) -> list:
  return [label for label in cells if wanted(label)]


def figure(cells: dict):
  def accuracy(labels):
    return [curves.load_curves(cells[l], "accuracy", l) for l in labels]
  def train(labels, metric):
    runs = []
    for label in labels:
      try:
        runs.append(curves.load_curves(cells[label], metric, label,
                                       splits=("train",)))
      except ValueError:  # a cell without this diagnostic (supervised)
        pass
    return runs
  capacity = _pick(cells, lambda l: l.startswith("paper") and l.count(",") == 1
                   or l == "supervised sibling")
  remedies = _pick(cells, lambda l: l.startswith("paper, latent 10")
                   or "entropy" in l)
  m2 = _pick(cells, lambda l: l.startswith("M2") or l == "paper, latent 10")
  every = list(cells)
  return curves.panels_figure([
      ("The paper's model at latent 2 / 10 / 50, and the supervised sibling",
       accuracy(capacity), "accuracy", (0.5, 1.0)),
      ("Remedies (the paper's model, latent 10 unless named)",
       accuracy(remedies), "accuracy", (0.5, 1.0)),
      ("Kingma et al.'s M2 and the paper's model", accuracy(m2), "accuracy",
       (0.5, 1.0)),
      ("Entropy of q(y|x) on the unlabeled half (nats; train)",
       train(every, "unlabeled_entropy"), "unlabeled_entropy"),
      ("Unlabeled reconstruction through y: nats lost with y shuffled",
       train(every, "y_reconstruction_gain"), "y_reconstruction_gain"),
      ("Unlabeled reconstruction through z: nats lost with z = 0",
       train(every, "z_reconstruction_gain"), "z_reconstruction_gain"),
  ], title="Unlabeled-data diagnosis: MNIST, dense, 100 labels, 2 seeds "
           f"({curves.BAND_NOTE})")


def _mean_std(values) -> str:
  values = np.asarray(values, dtype=float)
  if values.size == 0 or np.all(np.isnan(values)):
    return "—"
  if values.size == 1:
    return f"{values[0]:.3f}"
  return f"{np.nanmean(values):.3f} ± {np.nanstd(values, ddof=1):.3f}"


def _first_last(run_dir: str, metric: str) -> str:
  try:
    c = curves.load_curves(run_dir, metric, splits=("train",))
  except ValueError:  # the supervised sibling has no unlabeled diagnostics
    return "—"
  values = c.values["train"]
  return (f"{np.nanmean(values[:, 0]):.2f} → {np.nanmean(values[:, -1]):.2f}"
          f" (step {c.steps[0]} → {c.steps[-1]})")


def numbers_markdown(cells: dict) -> str:
  header = ["cell", "status", "val acc (selected)", "test acc (selected)",
            "test acc (last step)", "selected step", *DIAGNOSTICS]
  rows = ["| " + " | ".join(header) + " |",
          "|" + "---|" * len(header)]
  for label, run_dir in cells.items():
    results_path = os.path.join(run_dir, "results.json")
    acc = curves.load_curves(run_dir, "accuracy")
    if os.path.exists(results_path):
      results = io_utils.read_json(results_path)
      status = f"finished ({results['stop_reason']})"
      val = _mean_std(results["validation_metrics"]["accuracy"])
      test = _mean_std(results["metrics"]["accuracy"])
      last = _mean_std(results["last_metrics"]["accuracy"])
      selected = f"{np.mean(results['selected_step']):.0f}"
    else:
      status = f"running (step {acc.steps[-1]})"
      val = test = selected = "—"
      last = _mean_std(acc.values["test"][:, -1])
    rows.append("| " + " | ".join(
        [label, status, val, test, last, selected,
         *(_first_last(run_dir, m) for m in DIAGNOSTICS)]) + " |")
  return "\n".join(rows) + "\n"


# ------------------------------------------------ the comparison tables

# Figures quoted from elsewhere, never run here: {name: (source, rows)},
# rows {label: {num_labels: test accuracy}}. Papers' figures are the
# anchors; a figure whose recipe is unknown says so.
QUOTED = {
    "kingma_mnist": (
        "Kingma et al. 2014 (Semi-supervised Learning with Deep Generative "
        "Models), Table 1: M2's test error 11.97 ± 1.71, 4.94 ± 0.13, "
        "3.60 ± 0.56 and 3.92 ± 0.63 % with 100, 600, 1000 and 3000 labels, "
        "as accuracy",
        {"M2, Kingma et al. 2014": {100: 0.880, 600: 0.951, 1000: 0.964,
                                    3000: 0.961}}),
    "pyro_mnist": (
        "the figures of pyro's semi-supervised VAE tutorial (M2 with an "
        "auxiliary classification loss, and its labelled-only baseline; 5 "
        "label draws), whose recipe is unknown: pyro's own example "
        "(examples/vae/ss_vae_M2.py, pyro 1.9.1) with its defaults and "
        "`--seed 0 --aux-loss -sup 100 -bs 100` reached 0.625 test accuracy "
        "on our MNIST files after its 50 epochs",
        {"pyro M2 + auxiliary loss": {100: 0.932, 600: 0.944, 1000: 0.949,
                                      3000: 0.958},
         "pyro labelled-only baseline": {100: 0.771}}),
}
_VARIANT_LABELS = {"supervised": "supervised sibling",
                   "semi_supervised": "paper's model", "m2": "M2"}
_COLUMN_AXIS = "num_labels"


def row_label(axes: dict, baseline: dict) -> str:
  """A comparison row's name: the variant, plus each other axis that
  differs from its value in the baseline (the first cell of the ledger)."""
  label = _VARIANT_LABELS.get(axes["variant"], axes["variant"])
  extra = [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
           for k, v in axes.items()
           if k not in ("variant", _COLUMN_AXIS) and v != baseline.get(k)]
  return label + (f" + {', '.join(extra)}" if extra else "")


def _cell_text(cell: dict, metric: str) -> str:
  if cell["pending"] or metric not in cell["stats"]:
    return "pending"
  s = cell["stats"][metric]
  return f"{s['mean']:.4f} ± {s['std']:.4f} (n={s['n']})"


def _metric_rows(rows: dict, counts: list, metric: str) -> list[str]:
  """One markdown row per comparison row: `metric` at each label count."""
  return [f"| {label} | " + " | ".join(
      _cell_text(by_count[n], metric) if n in by_count else "—"
      for n in counts) + " |" for label, by_count in rows.items()]


def check_ledger(ledger: dict, ledger_path: str) -> None:
  """UserInputError naming the file unless `ledger` (a sweep's results.json,
  as ledger_lib.read_ledger returns it) has the fields the comparison reads."""
  missing = [k for k in ("title", "status", "protocol", "git_commits")
             if k not in ledger]
  cells = ledger.get("cells")
  if not isinstance(cells, list):
    problem = "'cells' is not a list"
  elif missing:
    problem = f"it lacks {missing}"
  else:
    bad = [i for i, c in enumerate(cells) if not (
        isinstance(c, dict) and isinstance(c.get("axes"), dict)
        and isinstance(c.get("pending"), bool)
        and isinstance(c.get("stats"), dict))]
    problem = bad and f"cell {bad[0]} lacks its axes, pending or stats"
  if problem:
    raise errors.UserInputError(
        f"{ledger_path} is not a sweep ledger this version wrote ({problem}); "
        "rerun the sweep (python -m experiments.sweep) to rewrite it.")


def _source(ledger: dict, ledger_path: str) -> str:
  return (f"the sweep ledger `{ledger_path}` (status: {ledger['status']}). "
          "Protocol: " + ", ".join(
              f"{k}={v}" for k, v in ledger["protocol"].items()) + ".")


def _commits(ledger: dict) -> str:
  return "Trained at: " + ", ".join(
      f"`{c}` ({n} cell{'s' * (n != 1)})"
      for c, n in ledger["git_commits"].items()
  ) + ledger_lib.dirty_note(ledger["git_commits"])


def _ledger_rows(ledger: dict, ledger_path: str, suffix: str = "") -> dict:
  """{row label: {num_labels: cell}} of a checked ledger; `suffix` is
  appended to each label (", tuned recipe") to tell its rows apart."""
  check_ledger(ledger, ledger_path)
  cells = ledger["cells"]
  if not cells or any(_COLUMN_AXIS not in c["axes"] for c in cells):
    raise errors.UserInputError(
        f"{ledger_path}: a comparison needs a sweep over {_COLUMN_AXIS}.")
  rows: dict[str, dict] = {}
  for cell in cells:
    label = row_label(cell["axes"], cells[0]["axes"]) + (
        f", {suffix}" if suffix else "")
    rows.setdefault(label, {})[cell["axes"][_COLUMN_AXIS]] = cell
  return rows


def comparison_markdown(ledger: dict, ledger_path: str,
                        quoted: str | Sequence[str] = (),
                        extra: Sequence[tuple[dict, str, str]] = ()) -> str:
  """A sweep's results.json as rows x label counts, test accuracy of the
  validation-selected state (and validation accuracy beside it), with the
  rows of each QUOTED[name] in `quoted` marked as quoted.

  extra: (ledger, path, suffix) of further sweeps over the same label
  counts (e.g. the tuned-recipe tables), their rows named with the suffix
  and their title and provenance in the header.
  """
  rows = _ledger_rows(ledger, ledger_path)
  extra_rows = [_ledger_rows(*e) for e in extra]
  for more in extra_rows:
    clash = sorted(set(more) & set(rows))
    if clash:
      raise errors.UserInputError(
          f"rows {clash} appear twice: give each extra ledger a suffix.")
    rows.update(more)
  names = [quoted] if isinstance(quoted, str) and quoted else list(
      () if isinstance(quoted, str) else quoted)
  sources = [QUOTED[name][0] for name in names]
  quoted_rows = {label: values for name in names
                 for label, values in QUOTED[name][1].items()}
  counts = sorted(set().union(*(by_count for by_count in rows.values()),
                              *quoted_rows.values()))
  header = "| row | " + " | ".join(f"{n} labels" for n in counts) + " |"
  rule = "|---|" + "---|" * len(counts)
  lines = [f"# {ledger['title']}", "", "From " + _source(ledger, ledger_path),
           "", _commits(ledger)]
  for more, path, suffix in extra:
    lines += ["", f"Rows marked `{suffix}`: {more['title']}; from "
              f"{_source(more, path)} {_commits(more)}"]
  lines += ["", "## Test accuracy of the validation-selected state", "",
            "Mean ± sample std over seeds (n seeds).", "", header, rule]
  lines += _metric_rows(rows, counts, "accuracy")
  for label, values in quoted_rows.items():
    lines.append(f"| {label} (quoted, not run here) | " + " | ".join(
        f"{values[n]:.3f}" if n in values else "—" for n in counts) + " |")
  if sources:
    lines += ["", f"Quoted rows: {'; '.join(sources)}. Their splits, "
              "training length and selection are not ours."]
  lines += ["", "## Validation accuracy (the selection metric)", "", header,
            rule]
  lines += _metric_rows(rows, counts, "val_accuracy")
  return "\n".join(lines) + "\n"
