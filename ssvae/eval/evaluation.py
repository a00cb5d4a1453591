"""The final metrics of a run, and `train_and_evaluate`, which writes them.

The training loop (ssvae.train) evaluates periodically what it selects on
(train.make_evaluator: accuracy, log loss, ELBO terms); `final_metrics` adds
what only the end of a run needs (anomaly AUC, betaVAE score when
config.beta_vae is set). `train_and_evaluate(config, workdir)` is one
experiment from a config: train.train, then results.json.
"""

import os
from typing import Optional

import jax
import ml_collections
import numpy as np

from ssvae import experiment as experiment_lib
from ssvae import io_utils
from ssvae import model_spec
from ssvae import parallel
from ssvae import rng
from ssvae import selection
from ssvae import steps
from ssvae import train
from ssvae.eval import anomaly
from ssvae.eval import disentanglement_eval


def anomaly_auc(exp, state) -> list[float]:
  """ROC AUC per seed of the held-out class vs the rest of the test split."""
  config = exp.config
  test = exp.dataset.test
  is_anomaly = anomaly.held_out_class_mask(test.y, config.data.held_out_class)
  aucs = []
  for s, seed in enumerate(exp.seeds):
    encode_fn, decode_fn = steps.scoring_fns(exp.model,
                                             steps.seed_slice(state, s))
    scores = anomaly.anomaly_scores(
        encode_fn, decode_fn, test.x,
        rng.seed_key(seed, "anomaly"),
        num_samples=config.anomaly_samples,
        likelihood=exp.dataset.likelihood,
        batch_size=config.train.eval_batch_size)
    aucs.append(anomaly.roc_auc(scores, is_anomaly))
  return aucs


def final_metrics(exp, state) -> dict:
  """{metric: [value per seed]} for results.json."""
  metrics = {k: v.tolist()
             for k, v in train.make_evaluator(exp)(state).items()}
  if (exp.config.data.held_out_class >= 0
      and model_spec.has_decoder(exp.config.model.variant)):
    metrics["auc"] = anomaly_auc(exp, state)
  if exp.config.get("beta_vae") is not None:
    metrics["beta_vae_score"] = disentanglement_eval.beta_vae_per_seed(
        exp, state)
  return metrics


def _protocol(run: train.Run) -> dict:
  cfg = run.exp.config.train
  validation = run.exp.dataset.validation
  return {"validation_size": 0 if validation is None else len(validation),
          "select_metric": run.metric, "patience": cfg.patience,
          "min_delta": cfg.min_delta,
          "eval_every": cfg.eval_every, "num_steps": cfg.num_steps}


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str,
                       *, devices=None,
                       experiment: Optional[experiment_lib.Experiment] = None,
                       provenance: Optional[dict] = None) -> dict:
  """Trains (or resumes) and writes the final metrics to results.json.

  Returns the results: {'step' (last step), 'selected_step' (per seed),
  'stop_reason', 'protocol', 'seeds', 'sampling_mode', 'num_labeled',
  'metrics' (test metrics of the selected state, {name: [value per seed]}),
  'validation_metrics' (of the selected state), 'last_metrics' (test
  metrics at the last step), 'wall_s', 'cpu_s'} plus `provenance` (e.g.
  the commit and machine that trained it). The workdir stays locked until
  results.json is written. `experiment`: as for train.train().
  """
  exp = experiment or experiment_lib.build_experiment(config, devices)
  with train.claimed(workdir):
    run = train.train_claimed(config, exp, workdir, None)
    return _write_results(run, workdir, provenance)


def _write_results(run: train.Run, workdir: str,
                   provenance: Optional[dict] = None) -> dict:
  """The results of a finished run, also written to workdir/results.json."""
  exp = run.exp
  last_metrics = final_metrics(exp, run.last)
  selected = run.selected
  results = {"step": int(parallel.to_host(run.last.step)[0]),
             "selected_step": run.selected_steps,
             "stop_reason": run.stop_reason,
             "protocol": _protocol(run),
             "seeds": list(exp.seeds),
             "sampling_mode": exp.sampling_mode,
             "num_labeled": int(exp.pools.labeled.shape[1])
             if exp.sampling_mode != "unlabeled" else 0,
             "metrics": (last_metrics if run.metric == selection.LAST
                         else final_metrics(exp, selected)),
             "last_metrics": last_metrics,
             "wall_s": run.wall_s, "cpu_s": run.cpu_s, **(provenance or {})}
  if exp.dataset.validation is not None:
    results["validation_metrics"] = {
        k: v.tolist() for k, v in
        train.make_evaluator(exp, "validation")(selected).items()}
  if jax.process_index() == 0:
    io_utils.write_json(os.path.join(workdir, "results.json"), results)
  return results


def summary_line(results: dict, workdir: str) -> str:
  """The one line a finished run ends with: its test metrics (mean over
  seeds, of each seed's selected state) and where results and curves are."""
  metrics, num_seeds = results["metrics"], len(results["seeds"])
  names = (("accuracy", "test accuracy", "{:.4f}"), ("elbo", "ELBO", "{:.2f}"),
           ("kl", "KL", "{:.3f}"))
  parts = [f"{label} {fmt.format(np.mean(metrics[key]))}"
           for key, label, fmt in names if key in metrics]
  steps = sorted(set(results.get("selected_step", [results["step"]])))
  chosen = (f"the state of step {', '.join(map(str, steps))} chosen on "
            "validation" if results.get("validation_metrics") else
            f"the last step, {results['step']}")
  return (f"Done: {', '.join(parts)} ({'mean over ' if num_seeds > 1 else ''}"
          f"{num_seeds} seed{'s' * (num_seeds > 1)}, {chosen}; ELBO and KL "
          f"in nats). Results: {os.path.join(workdir, 'results.json')}; "
          f"curves: {os.path.join(workdir, 'metrics.jsonl')} (plot them with "
          f"python -m experiments.learning_curves --run_dir={workdir} "
          "--out=curves.png).")
