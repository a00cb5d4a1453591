"""The unlabeled-data diagnosis sweep (issue 9) as a figure and a table.

Reads the cells of configs/unlabeled_diagnosis_mnist.py from a sweep
workdir (finished or still running): accuracy against step for the paper's
model at each latent size, the supervised sibling, each remedy and M2, and
the training diagnostics of ssvae.diagnostics. Entry point:
experiments/unlabeled_diagnosis_report.py.
"""

import os

import numpy as np

from ssvae import errors
from ssvae import io_utils
from ssvae.eval import curves
from ssvae.protocols import sweep

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


def load_cells(workdir: str) -> dict:
  """{label: run_dir} of every cell that has logged metrics."""
  runs = os.path.join(workdir, sweep.RUNS_DIR)
  if not os.path.isdir(runs):
    raise errors.RunNotFoundError(
        f"{runs} not found: is {workdir} a sweep's workdir?")
  cells = {}
  for name in sorted(os.listdir(runs)):
    run_dir = os.path.join(runs, name)
    if os.path.exists(os.path.join(run_dir, "metrics.jsonl")):
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
           "(mean ± std; triangles: selected steps)")


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
