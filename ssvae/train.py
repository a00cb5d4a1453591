"""A run's life: `train_and_evaluate(config, workdir)` trains (or resumes)
one experiment and writes its results.json; `train` is the loop.

A run trains `config.train.num_seeds` seeds side by side as one program: every
piece of per-run state (parameters, optimizer state, label pools, keys) has a
leading seed axis, the pure `steps.train_step` is vmapped over it, scanned over
`steps_per_call` steps with batches sampled on device, and jitted over a
(seed, data) mesh. One seed on N devices is plain data parallelism.

Protocol: every `eval_every` steps the run is evaluated on the validation
split (held out of the training split) and on test (for the curves only);
each seed keeps its best state by `train.select_metric` on validation
(ssvae.selection), and the run stops early when every seed has gone
`train.patience` evaluations without improving. results.json reports the
test metrics of the selected state, and those of the last step beside them
(ssvae.metrics.experiment_metrics.final_metrics).
"""

import contextlib
import dataclasses
import functools
import os
import time
from typing import Optional, Sequence, Union

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from ssvae import checkpointing
from ssvae import config_validation
from ssvae import data as data_lib
from ssvae import errors
from ssvae import experiment as experiment_lib
from ssvae import io_utils
from ssvae import model_spec
from ssvae import sharding
from ssvae import progress
from ssvae import rng
from ssvae import run_dir
from ssvae import selection as selection_lib
from ssvae import stacking
from ssvae import steps
from ssvae.metrics import experiment_metrics

def _train_step_fn(exp: experiment_lib.Experiment):
  """steps.train_step with the experiment's static arguments bound."""
  return functools.partial(
      steps.train_step, model=exp.model, tx=exp.tx,
      loss_config=exp.config.loss, likelihood=exp.dataset.likelihood,
      diagnostics=bool(exp.config.train.get("diagnostics", False)),
      labeled_first=data_lib.labeled_first(exp.sampling_mode,
                                           exp.config.train.batch_size,
                                           experiment_lib.labeled_fraction(
                                               exp.config)))


def make_parallel_train_step(exp: experiment_lib.Experiment):
  """jit(vmap(train_step)) on explicit batches [S, B, ...]; donates the state."""
  step = _train_step_fn(exp)
  seed_sharded = sharding.per_seed(exp.mesh)
  return jax.jit(
      jax.vmap(step, spmd_axis_name=sharding.SEED_AXIS),
      in_shardings=(seed_sharded, sharding.per_seed_batch(exp.mesh),
                    seed_sharded),
      out_shardings=(seed_sharded, seed_sharded), donate_argnums=0)


def unrolled_scan(body, carry, length: int, unroll):
  """lax.scan(body, carry, None, length, unroll=unroll), except that a full
  unroll (True, or an int >= length) traces `body` `length` times in a row
  with no loop at all: lax.scan keeps a one-trip while loop around a fully
  unrolled body, and XLA:CPU runs convolutions inside it as slowly as in a
  rolled loop. The same values.
  """
  if unroll is True or (not isinstance(unroll, bool) and unroll >= length):
    outputs = []
    for _ in range(length):
      carry, out = body(carry, None)
      outputs.append(out)
    return carry, jax.tree.map(lambda *o: jnp.stack(o), *outputs)
  return jax.lax.scan(body, carry, None, length=length, unroll=unroll)


def make_train_chunk(exp: experiment_lib.Experiment, num_steps: int):
  """Jitted `(state, pools, train_keys, x, y) -> (state, metrics)`.

  Runs `num_steps` steps in a lax.scan, sampling each batch on device with
  key fold_in(train_key, step) (train_key: the seed's "train" stream).
  metrics leaves are [S, num_steps].
  """
  cfg = exp.config
  step_fn = _train_step_fn(exp)
  batch_spec = jax.sharding.NamedSharding(
      exp.mesh, jax.sharding.PartitionSpec(sharding.DATA_AXIS))

  def one_seed(state, pools, train_key, x, y):
    def body(state, _):
      batch_key, step_key = jax.random.split(
          jax.random.fold_in(train_key, state.step))
      batch = data_lib.sample_batch(batch_key, x, y, pools,
                                    cfg.train.batch_size, exp.sampling_mode,
                                    experiment_lib.labeled_fraction(cfg))
      batch = jax.lax.with_sharding_constraint(batch, batch_spec)
      return step_fn(state, batch, step_key)
    # XLA:CPU runs convolutions inside a while loop ~10x slower
    # (jax-ml/jax#12868); train.scan_unroll=True unrolls the scan for them.
    return unrolled_scan(body, state, num_steps, cfg.train.scan_unroll)

  seed_sharded = sharding.per_seed(exp.mesh)
  rep = sharding.replicated(exp.mesh)
  return jax.jit(
      jax.vmap(one_seed, in_axes=(0, 0, 0, None, None),
               spmd_axis_name=sharding.SEED_AXIS),
      in_shardings=(seed_sharded, seed_sharded, seed_sharded, rep, rep),
      out_shardings=(seed_sharded, seed_sharded), donate_argnums=0)


def _diverged(what: str, workdir: str, ckpt: checkpointing.Checkpointer,
              *, step: int, seed: int) -> errors.TrainingDiverged:
  """The error that stops a diverged run, naming its last kept checkpoint.

  Waits for saves in flight first, so the step named is committed; no
  checkpoint holds a non-finite state (see _check_state_finite).
  """
  ckpt.wait_until_finished()
  last_checkpoint = ckpt.latest_step()
  kept = (f"its last checkpoint (step {last_checkpoint}, finite) is kept"
          if last_checkpoint else "no checkpoint was written")
  return errors.TrainingDiverged(
      f"Training diverged. {what}. Run {workdir} stopped; {kept}. Try a "
      "smaller optimizer.learning_rate or optimizer.momentum, then a new "
      "--workdir.", step=step, seed=seed)


def _check_finite(metrics: dict, first_step: int, seeds: tuple,
                  workdir: str, ckpt: checkpointing.Checkpointer) -> None:
  """Stops a run whose loss diverged, naming where, what, and what is kept."""
  metrics = sharding.to_host(metrics)
  loss = metrics["loss"]  # [S, n]
  bad = np.argwhere(~np.isfinite(loss))
  if bad.size:
    s, i = bad[0]
    terms = {k: float(np.asarray(v)[s, i]) for k, v in metrics.items()}
    raise _diverged(
        f"Non-finite loss at step {first_step + i + 1} (seed {seeds[s]}): "
        + ", ".join(f"{k}={v:.6g}" for k, v in sorted(terms.items())),
        workdir, ckpt, step=int(first_step + i + 1), seed=int(seeds[s]))


@jax.jit
def _finite_per_seed(tree) -> jax.Array:
  """[S] bool: every float leaf of seed s is finite."""
  leaves = [jnp.isfinite(leaf).reshape(leaf.shape[0], -1).all(axis=1)
            for leaf in jax.tree.leaves(tree)
            if jnp.issubdtype(leaf.dtype, jnp.floating)]
  return jnp.stack(leaves).all(axis=0)


def _check_state_finite(state: steps.TrainState, step: int, seeds: tuple,
                        workdir: str, ckpt: checkpointing.Checkpointer) -> None:
  """Refuses to checkpoint a state with NaN/inf parameters or optimizer state.

  The loss of a step is computed before its update, so an update can turn
  the state non-finite while every loss so far was finite.
  """
  finite = sharding.to_host(_finite_per_seed(state))
  if not finite.all():
    seed = seeds[int(np.argmin(finite))]
    raise _diverged(
        f"The parameters or optimizer state of seed {seed} hold NaN or inf "
        f"after step {step}", workdir, ckpt, step=int(step), seed=int(seed))


def train_log_windows(pending: Optional[dict], metrics: dict, end: int,
                      log_every: int, flush: bool = False
                      ) -> tuple[list[tuple[int, dict]], Optional[dict]]:
  """The train records of a chunk: ([(step, {name: [S] mean})], pending).

  metrics: {name: [S, n]} host arrays of the steps end-n+1..end; pending:
  the steps just before them not yet logged (None: none). log_every 0: one
  record of the whole chunk at `end`. Else one record at every multiple of
  log_every, the mean of the steps since the last record, and the steps
  after the last multiple are returned as the new pending (or logged at
  `end` when flush: the run's last chunk).
  """
  if pending is not None:
    metrics = {k: np.concatenate([pending[k], v], axis=1)
               for k, v in metrics.items()}
  if log_every <= 0:
    return [(end, {k: v.mean(axis=1) for k, v in metrics.items()})], None
  count = next(iter(metrics.values())).shape[1]
  first = end - count + 1
  cuts = [s - first + 1 for s in range(first, end + 1) if s % log_every == 0]
  if flush and (not cuts or cuts[-1] != count):
    cuts.append(count)
  records, start = [], 0
  for cut in cuts:
    records.append((first + cut - 1, {k: v[:, start:cut].mean(axis=1)
                                      for k, v in metrics.items()}))
    start = cut
  rest = ({k: v[:, start:] for k, v in metrics.items()}
          if start < count else None)
  return records, rest


def _per_seed_records(step: int, split: str, seeds: tuple, metrics: dict):
  for s, seed in enumerate(seeds):
    yield {"step": step, "split": split, "seed": seed,
           **{k: float(v[s]) for k, v in metrics.items()}}


def _chunk_boundaries(start: int, cfg) -> list[int]:
  """Steps at which a chunk ends: every steps_per_call, eval, checkpoint."""
  t = cfg.train
  ends = set(range(start + t.steps_per_call, t.num_steps, t.steps_per_call))
  ends |= {s for s in range(t.eval_every, t.num_steps, t.eval_every)}
  ends |= {s for s in range(t.checkpoint_every, t.num_steps,
                            t.checkpoint_every)}
  ends.add(t.num_steps)
  return sorted(e for e in ends if e > start)


@dataclasses.dataclass(frozen=True)
class Run:
  """What `train` returns.

  last: the train state at the last step. selection: each seed's best state
  on validation (ssvae.selection). metric: the validation metric selected on
  ('last' = no selection). stop_reason: 'early_stop' (patience exhausted),
  'num_steps' (the cap) or 'interrupted' (stop_after_step).
  """
  exp: experiment_lib.Experiment
  last: steps.TrainState
  selection: selection_lib.Selection
  metric: str
  stop_reason: str
  wall_s: float
  cpu_s: float

  @property
  def selected(self) -> steps.TrainState:
    if self.metric == selection_lib.LAST:
      return self.last
    return selection_lib.selected_state(self.last, self.selection)

  @property
  def selected_steps(self) -> list[int]:
    return sharding.to_host(self.selected.step).tolist()


def _evaluate_and_select(step, state, selection, evaluators, metric, writer,
                         seeds, seed_sharded, min_delta):
  """Evaluates every split, logs it, and updates the selection."""
  results = {}
  for split, evaluate in evaluators.items():
    results[split] = evaluate(state)
    for r in _per_seed_records(step, split, seeds, results[split]):
      writer.write(r)
  logging.info("step %d %s", step, {
      split: {k: round(float(np.mean(v)), 4) for k, v in values.items()}
      for split, values in results.items()})
  if metric != selection_lib.LAST:
    selection = selection_lib.update(selection, state, sharding.put(
        selection_lib.signed_score(metric, results["validation"][metric]),
        seed_sharded), min_delta)
  return selection


def _selection_metric(exp: experiment_lib.Experiment) -> str:
  """The validation metric each seed's state is selected on, checked.

  A validation split without labeled points (a user's unlabeled data) has
  no accuracy or log loss: 'auto' then selects on the ELBO.
  """
  metric = (selection_lib.resolve_metric(exp.config)
            if exp.dataset.validation is not None else selection_lib.LAST)
  if metric not in (selection_lib.LAST, *selection_lib.MAXIMIZE):
    raise config_validation.ConfigError(
        f"config.train.select_metric: {metric!r} is not one of "
        f"{selection_lib.SELECT_METRICS}.")
  if (metric in ("accuracy", "log_loss")
      and not len(data_lib.labeled_rows(exp.dataset.validation.y))):
    variant = exp.config.model.variant
    if (exp.config.train.select_metric != selection_lib.AUTO
        or not model_spec.has_decoder(variant)):
      raise config_validation.ConfigError(
          f"config.train.select_metric: the validation split of "
          f"{exp.dataset.name!r} has no labeled points, so there is no "
          f"validation {metric} to select on; use 'elbo' (or 'last') with "
          f"model.variant={variant!r}, or give labels.")
    logging.info("The validation split has no labeled points: selecting on "
                 "the validation ELBO (train.select_metric='auto').")
    metric = "elbo"
  return metric


def train(config: ml_collections.ConfigDict, workdir: str, *, devices=None,
          stop_after_step: Optional[int] = None,
          experiment: Optional[experiment_lib.Experiment] = None,
          init_state: Optional[steps.TrainState] = None) -> Run:
  """Trains, resuming from `workdir`'s last intact checkpoint.

  Writes `config.json`, `metrics.jsonl` and TensorBoard event files
  (run_dir.TENSORBOARD_DIR) into workdir, once the workdir is accepted (see
  run_dir.accept); holds its lock meanwhile. `stop_after_step` stops after
  that step's chunk (as a killed run would); the next call resumes from the
  last checkpoint. `experiment` replaces the one built from the config
  (custom data or labeled subsets, see
  experiment.experiment_from_dataset).
  `init_state` (seed-stacked) replaces the fresh initialization, e.g. to
  fine-tune a trained state; a workdir with a checkpoint resumes from it
  instead.
  """
  exp = _experiment_of(config, experiment, devices)
  with run_dir.claimed(workdir):
    return _train_claimed(exp, workdir, stop_after_step, init_state)


def _experiment_of(config, experiment, devices) -> experiment_lib.Experiment:
  """The given experiment (which must be of `config`) or config's."""
  if experiment is None:
    return experiment_lib.build_experiment(config, devices)
  if (experiment.config.to_json_best_effort()
      != config.to_json_best_effort()):
    raise ValueError("experiment.config differs from the config given.")
  return experiment


def _train_claimed(exp: experiment_lib.Experiment, workdir: str,
                   stop_after_step: Optional[int] = None,
                   init_state: Optional[steps.TrainState] = None) -> Run:
  """train() on a claimed workdir; closes the checkpointer however it ends
  (saves in flight are committed: no half checkpoint, no hang at exit)."""
  with _RunTracker(exp, workdir, init_state) as tracker:
    _train_rows(exp, [tracker], [None], tracker.state,
                exp.dataset.train.x, exp.dataset.train.y, stop_after_step,
                desc=f"train {os.path.basename(workdir)}")
    return tracker.run()


def train_stacked(exps: Sequence[experiment_lib.Experiment],
                  workdirs: Sequence[str], *,
                  stop_after_step: Optional[int] = None
                  ) -> list[Union[Run, errors.TrainingDiverged]]:
  """Trains several runs as one program (ssvae.stacking): each as train()
  would, with the same numbers up to float32 rounding, in its own workdir,
  resumed from its own checkpoint. Runs that resume from different steps
  train one stack per step, one after another.

  Returns, per run, its Run, or the TrainingDiverged error that stopped it
  alone (the others go on).
  """
  with contextlib.ExitStack() as claims:
    for workdir in workdirs:
      claims.enter_context(run_dir.claimed(workdir))
    return _train_stacked_claimed(exps, workdirs, stop_after_step)


def _train_stacked_claimed(exps, workdirs, stop_after_step=None):
  with contextlib.ExitStack() as open_runs:
    trackers = [open_runs.enter_context(_RunTracker(exp, workdir))
                for exp, workdir in zip(exps, workdirs)]
    by_start = {}
    for i, tracker in enumerate(trackers):
      by_start.setdefault(tracker.start, []).append(i)
    for start, members in sorted(by_start.items()):
      group = stacking.stack([exps[i] for i in members])
      state = stacking.concatenate_rows(
          [trackers[i].state for i in members], group.exp.mesh)
      _train_rows(group.exp, [trackers[i] for i in members], group.rows,
                  state, group.x, group.y, stop_after_step,
                  desc=f"train {len(members)} stacked runs",
                  stop_on_diverged=False)
    return [t.error or t.run() for t in trackers]


class _RunTracker:
  """One run directory's side of training: accepts and restores it, and
  after every chunk logs the train metrics, evaluates and selects, saves
  checkpoints and decides when the run is done. A context manager: opens
  the checkpointer and metrics files, and closes them however it ends."""

  def __init__(self, exp: experiment_lib.Experiment, workdir: str,
               init_state: Optional[steps.TrainState] = None):
    self.exp, self.workdir = exp, workdir
    self.metric = _selection_metric(exp)
    self.ckpt = checkpointing.Checkpointer(workdir)
    self._writer = None
    self.error: Optional[errors.TrainingDiverged] = None
    try:
      self._restore(init_state)
    except BaseException:
      self.ckpt.close()
      raise

  def _restore(self, init_state) -> None:
    exp = self.exp
    self.start, ckpt_tree = run_dir.resume(exp, self.workdir, self.ckpt,
                                           init_state)
    logging.info("%s", experiment_lib.describe_splits(exp))
    self.state, self.selection = ckpt_tree["state"], ckpt_tree["selection"]
    self._wall0 = time.time() - float(ckpt_tree["clock"]["wall_s"])
    self._cpu0 = time.process_time() - float(ckpt_tree["clock"]["cpu_s"])
    self._evaluators = {split: experiment_metrics.make_evaluator(exp, split)
                        for split in ("validation", "test")
                        if getattr(exp.dataset, split) is not None}
    self._unlogged = None  # train steps since the last train record
    self.stop_reason = "num_steps"
    self.evals_since_best = selection_lib.evals_since_best(self.selection)
    if selection_lib.out_of_patience(self.evals_since_best,
                                     exp.config.train.patience):
      self.stop_reason = "early_stop"  # a resumed run that had stopped
    self.done = self.stop_reason == "early_stop"

  def __enter__(self):
    self._writer = run_dir.metrics_writer(self.workdir, self.start)
    return self

  def __exit__(self, *exc):
    try:
      self._writer.close()
    finally:
      self.ckpt.close()

  def clock(self) -> dict:
    return {"wall_s": np.float64(time.time() - self._wall0),
            "cpu_s": np.float64(time.process_time() - self._cpu0)}

  def _write_train(self, records, rate) -> None:
    for at, mean in records:
      for r in _per_seed_records(at, "train", self.exp.seeds,
                                 {**mean, "examples_per_s": rate}):
        self._writer.write(r)

  def after_chunk(self, first_step: int, step: int, state_of, metrics: dict,
                  rate: float) -> None:
    """Books the chunk of steps first_step + 1..step: its host `metrics`
    ({name: [S, n]}); `state_of()` gives this run's state after it."""
    exp, cfg = self.exp, self.exp.config.train
    _check_finite(metrics, first_step, exp.seeds, self.workdir, self.ckpt)
    rate = np.full(exp.num_seeds, rate)
    records, self._unlogged = train_log_windows(
        self._unlogged, metrics, step, cfg.get("log_every", 0),
        flush=step == cfg.num_steps)
    self._write_train(records, rate)
    if step % cfg.eval_every == 0 or step == cfg.num_steps:
      self.selection = _evaluate_and_select(
          step, state_of(), self.selection, self._evaluators, self.metric,
          self._writer, exp.seeds, sharding.per_seed(exp.mesh),
          cfg.min_delta)
      self.evals_since_best = selection_lib.evals_since_best(self.selection)
      if selection_lib.out_of_patience(self.evals_since_best, cfg.patience):
        self.stop_reason = "early_stop"
        if self._unlogged is not None:  # the steps since the last record
          tail, self._unlogged = train_log_windows(None, self._unlogged,
                                                   step, 0)
          self._write_train(tail, rate)
    if (step % cfg.checkpoint_every == 0 or step == cfg.num_steps
        or self.stop_reason == "early_stop"):
      _check_state_finite(state_of(), step, exp.seeds, self.workdir,
                          self.ckpt)
      self.ckpt.save(step, {"state": state_of(), "selection": self.selection,
                            "clock": self.clock()})
    if self.stop_reason == "early_stop" or step == cfg.num_steps:
      self.finish(state_of(), self.stop_reason)

  def finish(self, state: steps.TrainState, stop_reason: str) -> None:
    self.state, self.stop_reason, self.done = state, stop_reason, True

  def fail(self, error: errors.TrainingDiverged) -> None:
    self.error, self.done = error, True

  def run(self) -> Run:
    cfg = self.exp.config.train
    if self.stop_reason == "early_stop":
      logging.info(
          "Stopped early at step %d: no seed improved validation %s for %d "
          "evaluations (selected steps %s).",
          int(sharding.to_host(self.state.step)[0]), self.metric,
          cfg.patience, sharding.to_host(self.selection.step).tolist())
    elif self.stop_reason == "num_steps":
      logging.info("Stopped at the step cap train.num_steps=%d.",
                   cfg.num_steps)
    elapsed = self.clock()
    return Run(exp=self.exp, last=self.state, selection=self.selection,
               metric=self.metric, stop_reason=self.stop_reason,
               wall_s=float(elapsed["wall_s"]),
               cpu_s=float(elapsed["cpu_s"]))


def _train_rows(exp: experiment_lib.Experiment, trackers, rows, state,
                x, y, stop_after_step: Optional[int], *, desc: str,
                stop_on_diverged: bool = True) -> None:
  """The chunk loop: trains `state` (rows of `exp`'s seed axis), each
  tracker booking its `rows` (None: all of them), until every run is done
  or `stop_after_step`. Runs start from one step. A diverged run raises
  (stop_on_diverged) or is failed while the others go on; its rows train
  on, unread, as do those of runs that stopped early."""
  cfg = exp.config.train
  seed_sharded = sharding.per_seed(exp.mesh)
  rep = sharding.replicated(exp.mesh)
  x, y = sharding.put(x, rep), sharding.put(y, rep)
  pools = sharding.put(exp.pools, seed_sharded)
  train_keys = sharding.put(rng.seed_keys(exp.seeds, "train"), seed_sharded)
  start = step = trackers[0].start
  chunks = {}
  t0 = time.time()
  with progress.Progress(cfg.num_steps, initial=start, desc=desc,
                         unit="step", examples_per_unit=cfg.batch_size) as bar:
    for end in _chunk_boundaries(start, exp.config):
      if all(t.done for t in trackers):
        break
      n = end - step
      if n not in chunks:
        chunks[n] = make_train_chunk(exp, n)
      state, metrics = chunks[n](state, pools, train_keys, x, y)
      metrics = sharding.to_host(metrics)
      first_step, step = step, end
      bar.update(n)
      rate = (step - start) * cfg.batch_size / max(time.time() - t0, 1e-9)
      for tracker, r in zip(trackers, rows):
        if tracker.done:
          continue
        state_of = (lambda: state) if r is None else functools.cache(
            functools.partial(stacking.take_rows, state, r, tracker.exp.mesh))
        try:
          tracker.after_chunk(first_step, step,
                              state_of, {k: v[r] if r is not None else v
                                         for k, v in metrics.items()}, rate)
        except errors.TrainingDiverged as e:
          if stop_on_diverged:
            raise
          tracker.fail(e)
      postfix = {"loss": f"{float(metrics['loss'].mean()):.4g}"}
      if cfg.patience:  # how near the early stop is (the nearest run's)
        nearest = max((t.evals_since_best for t in trackers if not t.done),
                      default=cfg.patience)
        postfix["evals_since_best"] = f"{nearest}/{cfg.patience}"
      bar.set_postfix(**postfix)
      if stop_after_step is not None and step >= stop_after_step:
        break
  for tracker, r in zip(trackers, rows):
    if not tracker.done:  # stopped by stop_after_step
      tracker.finish(state if r is None else stacking.take_rows(
          state, r, tracker.exp.mesh), "interrupted")


def _protocol(run: Run) -> dict:
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
  exp = _experiment_of(config, experiment, devices)
  with run_dir.claimed(workdir):
    run = _train_claimed(exp, workdir)
    return _write_results(run, workdir, provenance)


def train_and_evaluate_stacked(
    exps: Sequence[experiment_lib.Experiment], workdirs: Sequence[str], *,
    provenance: Optional[dict] = None
) -> list[Union[dict, errors.TrainingDiverged]]:
  """train_and_evaluate for several runs trained as one program
  (train_stacked): per run, its results (also in its results.json) or the
  TrainingDiverged error that stopped it. Each run's wall_s and cpu_s are
  those of the whole stack."""
  with contextlib.ExitStack() as claims:
    for workdir in workdirs:
      claims.enter_context(run_dir.claimed(workdir))
    runs = _train_stacked_claimed(exps, workdirs)
    return [run if isinstance(run, errors.TrainingDiverged)
            else _write_results(run, workdir, provenance)
            for run, workdir in zip(runs, workdirs)]


def _write_results(run: Run, workdir: str,
                   provenance: Optional[dict] = None) -> dict:
  """The results of a finished run, also written to workdir/results.json."""
  exp = run.exp
  last_metrics = experiment_metrics.final_metrics(exp, run.last)
  selected = run.selected
  results = {"step": int(sharding.to_host(run.last.step)[0]),
             "selected_step": run.selected_steps,
             "stop_reason": run.stop_reason,
             "protocol": _protocol(run),
             "seeds": list(exp.seeds),
             "sampling_mode": exp.sampling_mode,
             "num_labeled": int(exp.pools.labeled.shape[1])
             if exp.sampling_mode != "unlabeled" else 0,
             "metrics": (last_metrics if run.metric == selection_lib.LAST
                         else experiment_metrics.final_metrics(exp, selected)),
             "last_metrics": last_metrics,
             "wall_s": run.wall_s, "cpu_s": run.cpu_s, **(provenance or {})}
  if exp.dataset.validation is not None:
    results["validation_metrics"] = {
        k: v.tolist() for k, v in
        experiment_metrics.make_evaluator(exp, "validation")(selected).items()}
  if jax.process_index() == 0:
    io_utils.write_json(os.path.join(workdir, run_dir.RESULTS_FILE), results)
  return results


def summary_line(results: dict, workdir: str) -> str:
  """The one line a finished run ends with: its test metrics (mean over
  seeds, of each seed's selected state) and where results and curves are."""
  metrics, num_seeds = results["metrics"], len(results["seeds"])
  names = (("accuracy", "test accuracy", "{:.4f}"), ("elbo", "ELBO", "{:.2f}"),
           ("kl", "KL", "{:.3f}"))
  parts = [f"{label} {fmt.format(np.mean(metrics[key]))}"
           for key, label, fmt in names if key in metrics]
  selected = sorted(set(results.get("selected_step", [results["step"]])))
  chosen = (f"the state of step {', '.join(map(str, selected))} chosen on "
            "validation" if results.get("validation_metrics") else
            f"the last step, {results['step']}")
  results_path = os.path.join(workdir, run_dir.RESULTS_FILE)
  curves_path = os.path.join(workdir, run_dir.METRICS_FILE)
  return (f"Done: {', '.join(parts)} ({'mean over ' if num_seeds > 1 else ''}"
          f"{num_seeds} seed{'s' * (num_seeds > 1)}, {chosen}; ELBO and KL "
          f"in nats). Results: {results_path}; curves: {curves_path} (plot "
          f"them with python -m experiments.learning_curves --run_dir="
          f"{workdir} --out=curves.png).")
