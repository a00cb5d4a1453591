"""Tests for ssvae.train: end to end, resume, multi-device, vmapped seeds."""

import json
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator

from configs import common
from configs import default
from ssvae import checkpointing
from ssvae import config_diff
from ssvae import config_validation
from ssvae import data as data_lib
from ssvae import errors
from ssvae import experiment as experiment_lib
from ssvae import rng
from ssvae import run_dir
from ssvae import steps
from ssvae import train
from ssvae.metrics import experiment_metrics


def tiny_config(**train_overrides):
  config = common.tiny(default.base_config())
  config.model.hidden_sizes = (32,)
  config.data.num_labels = 50
  config.train.num_steps = 20
  config.train.checkpoint_every = 10
  config.train.update(train_overrides)
  return config


def tensorboard_scalars(workdir, seed, split, tag):
  """[(step, value)] of one TensorBoard run, read with TensorBoard's reader."""
  accumulator = event_accumulator.EventAccumulator(
      os.path.join(workdir, run_dir.TENSORBOARD_DIR, f"seed_{seed}", split))
  accumulator.Reload()
  return [(e.step, e.value) for e in accumulator.Scalars(tag)]


def test_train_and_evaluate_writes_outputs(tmp_path):
  workdir = str(tmp_path / "run")
  results = train.train_and_evaluate(tiny_config(), workdir)
  assert results["step"] == 20 and results["seeds"] == [0]
  assert results["sampling_mode"] == "mixed" and results["num_labeled"] == 50
  for name in ("accuracy", "log_loss", "reconstruction", "kl", "elbo"):
    assert np.isfinite(results["metrics"][name][0]), name
  assert json.load(open(os.path.join(workdir, "results.json"))) == results
  records = [json.loads(l) for l in open(os.path.join(workdir,
                                                      "metrics.jsonl"))]
  assert [r["step"] for r in records if r["split"] == "train"] == [5, 10, 15,
                                                                   20]
  assert [r["step"] for r in records if r["split"] == "test"] == [10, 20]
  saved = json.load(open(os.path.join(workdir, "config.json")))
  assert saved["data"]["num_labels"] == 50
  for split, tag in (("train", "loss"), ("validation", "accuracy"),
                     ("test", "elbo")):
    expected = [(r["step"], pytest.approx(r[tag])) for r in records
                if r["split"] == split]
    assert tensorboard_scalars(workdir, 0, split, tag) == expected, split


def test_training_reduces_the_loss(tmp_path):
  config = tiny_config(num_steps=200, steps_per_call=50, eval_every=200,
                       checkpoint_every=200)
  train.train(config, str(tmp_path))
  records = [json.loads(l) for l in open(tmp_path / "metrics.jsonl")]
  losses = [r["loss"] for r in records if r["split"] == "train"]
  assert losses[-1] < 0.8 * losses[0]


def test_interrupted_run_resumes_to_identical_parameters(tmp_path):
  config = tiny_config()
  uninterrupted = train.train(config, str(tmp_path / "straight")).last
  killed_dir = str(tmp_path / "killed")
  # Stops after step 15; the last checkpoint is at step 10, so steps 11-15
  # are lost and redone, as after a kill.
  train.train(config, killed_dir, stop_after_step=15)
  assert checkpointing.Checkpointer(killed_dir).latest_step() == 10
  resumed = train.train(config, killed_dir).last
  chex.assert_trees_all_equal(resumed.params, uninterrupted.params)
  steps = [json.loads(l)["step"] for l in open(os.path.join(killed_dir,
                                                             "metrics.jsonl"))
           if json.loads(l)["split"] == "train"]
  assert steps == [5, 10, 15, 20]  # the lost step-15 record was replaced
  assert [s for s, _ in tensorboard_scalars(killed_dir, 0, "train", "loss")
          ] == [5, 10, 15, 20]  # TensorBoard too


def test_resuming_with_a_different_config_is_refused(tmp_path):
  train.train(tiny_config(num_steps=10), str(tmp_path))
  changed = tiny_config()
  changed.loss.alpha = 7.0
  with pytest.raises(ValueError, match="loss.alpha"):
    train.train(changed, str(tmp_path))


def test_eight_devices_match_one_device_on_the_same_batch():
  assert jax.device_count() >= 8
  config = tiny_config()
  batch = None
  params = {}
  for n in (1, 8):
    exp = experiment_lib.build_experiment(config, devices=jax.devices()[:n])
    state = experiment_lib.init_train_state(exp)
    if batch is None:
      x = jnp.asarray(exp.dataset.train.x)
      y = jnp.asarray(exp.dataset.train.y)
      pools = jax.tree.map(lambda a: a[0], exp.pools)
      batch = jax.tree.map(lambda a: a[None], data_lib.sample_batch(
          jax.random.PRNGKey(3), x, y, pools, 16, exp.sampling_mode))
    step = train.make_parallel_train_step(exp)
    key = jax.random.PRNGKey(4)[None]
    for _ in range(3):
      state, _ = step(state, batch, key)
    params[n] = jax.device_get(state.params)
  chex.assert_trees_all_close(params[1], params[8], rtol=1e-5, atol=1e-6)


def test_vmapped_seeds_match_separate_runs(tmp_path):
  together = tiny_config(num_seeds=2)
  state = train.train(together, str(tmp_path / "both"),
                      devices=jax.devices()[:2]).last
  for s, seed in enumerate((0, 1)):
    alone = tiny_config()
    alone.seed = seed
    single = train.train(alone, str(tmp_path / f"seed{seed}"),
                         devices=jax.devices()[:1]).last
    chex.assert_trees_all_close(
        jax.tree.map(lambda a: a[s], state.params),
        jax.tree.map(lambda a: a[0], single.params), rtol=1e-5, atol=1e-6)


def test_train_chunk_traces_the_step_once(monkeypatch):
  monkeypatch.setattr(steps, "train_step",
                      chex.assert_max_traces(steps.train_step, n=1))
  exp = experiment_lib.build_experiment(tiny_config(),
                                        devices=jax.devices()[:1])
  state = experiment_lib.init_train_state(exp)
  keys = rng.seed_keys(exp.seeds, "train")
  x, y = jnp.asarray(exp.dataset.train.x), jnp.asarray(exp.dataset.train.y)
  pools = jax.tree.map(jnp.asarray, exp.pools)
  chunk = train.make_train_chunk(exp, 5)
  for _ in range(3):  # a retrace would raise inside assert_max_traces
    state, _ = chunk(state, pools, keys, x, y)
  assert int(state.step[0]) == 15


@pytest.mark.parametrize("unroll", [1, 2, True, 5, 7])
def test_unrolled_scan_is_lax_scan(unroll):
  def body(carry, _):
    return carry * 1.5 + 1.0, {"c": carry, "d": carry ** 2}
  want = jax.lax.scan(body, jnp.arange(3.0), None, length=5)
  got = train.unrolled_scan(body, jnp.arange(3.0), 5, unroll)
  chex.assert_trees_all_equal(got, want)
  jaxpr = str(jax.make_jaxpr(
      lambda c: train.unrolled_scan(body, c, 5, unroll))(jnp.arange(3.0)))
  # A full unroll leaves no loop (XLA:CPU runs convolutions in loops slowly).
  assert ("while" in jaxpr or "scan" in jaxpr) == (
      unroll is not True and unroll < 5)


def test_unrolled_chunk_matches_the_scanned_chunk():
  states = []
  for unroll in (1, True):
    exp = experiment_lib.build_experiment(tiny_config(scan_unroll=unroll),
                                 devices=jax.devices()[:1])
    state = experiment_lib.init_train_state(exp)
    chunk = train.make_train_chunk(exp, 3)
    states.append(chunk(state, jax.tree.map(jnp.asarray, exp.pools),
                        rng.seed_keys(exp.seeds, "train"),
                        jnp.asarray(exp.dataset.train.x),
                        jnp.asarray(exp.dataset.train.y)))
  chex.assert_trees_all_close(states[0], states[1], rtol=1e-6, atol=1e-6)


def test_non_finite_loss_stops_with_step_and_terms(tmp_path):
  config = tiny_config()
  config.optimizer.learning_rate = 1e30
  with pytest.raises(FloatingPointError,
                     match=r"Non-finite loss at step \d+ \(seed 0\).*kl=.*stopped"):
    train.train(config, str(tmp_path))


@pytest.mark.parametrize("field,value,message", [
    ("model.family", "transformer", "config.model.family"),
    ("model.variant", "semi", "config.model.variant"),
    ("data.num_labels", -5, "config.data.num_labels"),
    ("data.label_fraction", 1.5, "config.data.label_fraction"),
    ("train.batch_size", 15, "config.train.batch_size"),
    ("model.decoder_y", "argmax", "config.model.decoder_y"),
    ("model.gumbel_temperature", 0.0, "config.model.gumbel_temperature"),
    ("model.gumbel_temperature_min", 2.0,
     "config.model.gumbel_temperature_min"),
    ("model.gumbel_anneal_steps", -1, "config.model.gumbel_anneal_steps"),
    ("loss.unlabeled_entropy_weight", -1.0,
     "config.loss.unlabeled_entropy_weight"),
    ("data.labeled_fraction_of_batch", 1.0,
     "config.data.labeled_fraction_of_batch: must be in"),
    ("data.labeled_fraction_of_batch", 0.1,
     r"config.data.labeled_fraction_of_batch: times train.batch_size .* "
     r"whole number"),
])
def test_bad_config_values_name_the_field(field, value, message):
  config = tiny_config()
  section, name = field.split(".")
  config[section][name] = value
  with pytest.raises(config_validation.ConfigError, match=message):
    config_validation.validate(config)


@pytest.mark.parametrize("overrides,message", [
    ({"model.variant": "m2", "model.family": "cnn"},
     r"config\.model\.variant: 'm2' is implemented for model\.family in "
     r"\('dense',\)"),
    ({"model.variant": "m2", "data.held_out_class": 3},
     r"config\.data\.held_out_class"),
    ({"model.variant": "m2", "model.decoder_y": "straight_through"},
     r"config\.model\.decoder_y: .*semi_supervised variant only"),
    ({"model.family": "multihead_cnn", "model.decoder_y": "detached"},
     r"config\.model\.decoder_y: .*family whose decoder sees y"),
    ({"model.variant": "unsupervised", "loss.unlabeled_entropy_weight": 1.0},
     r"config\.loss\.unlabeled_entropy_weight"),
])
def test_options_the_variant_cannot_take_name_the_field(overrides, message):
  config = tiny_config()
  for field, value in overrides.items():
    section, name = field.split(".")
    config[section][name] = value
  with pytest.raises(config_validation.ConfigError, match=message):
    config_validation.validate(config)


def test_configs_saved_before_the_issue_9_fields_still_validate():
  config = tiny_config()
  for field in ("decoder_y", "gumbel_temperature", "gumbel_temperature_min",
                "gumbel_anneal_steps"):
    del config.model[field]
  del config.loss["unlabeled_entropy_weight"]
  del config.train["diagnostics"]
  config_validation.validate(config)


def test_labeled_fraction_of_batch_sets_the_labeled_share_of_the_loss():
  """At 0.25 a step's cross-entropy averages B/4 labeled points: the
  labeled_first the step is built with, and the mask the sampler draws."""
  config = tiny_config(batch_size=16)
  config.data.labeled_fraction_of_batch = 0.25
  exp = experiment_lib.experiment_from_dataset(
      config, data_lib.load_dataset(config.data), jax.devices()[:1])
  assert data_lib.labeled_first(exp.sampling_mode, 16,
                                experiment_lib.labeled_fraction(config)) == 4
  batch = data_lib.sample_batch(
      jax.random.key(0), jnp.asarray(exp.dataset.train.x),
      jnp.asarray(exp.dataset.train.y),
      jax.tree.map(lambda a: jnp.asarray(a[0]), exp.pools), 16,
      exp.sampling_mode, experiment_lib.labeled_fraction(config))
  np.testing.assert_array_equal(batch["label_mask"], [1] * 4 + [0] * 12)
  labeled = set(np.asarray(exp.pools.labeled[0]).tolist())
  # The first 4 points come from the labeled pool, the other 12 do not.
  first = np.asarray(exp.dataset.train.x)
  drawn = [int(np.flatnonzero((first == np.asarray(b)).all(axis=(1, 2, 3)))[0])
           for b in batch["x"]]
  assert set(drawn[:4]) <= labeled and not set(drawn[4:]) & labeled
  state, _ = train.make_train_chunk(exp, 2)(
      experiment_lib.init_train_state(exp),
      jax.tree.map(jnp.asarray, exp.pools),
      rng.seed_keys(exp.seeds, "train"), jnp.asarray(exp.dataset.train.x),
      jnp.asarray(exp.dataset.train.y))
  assert int(state.step[0]) == 2


def test_runs_recorded_before_added_fields_resume(tmp_path):
  train.train(tiny_config(num_steps=10), str(tmp_path))
  path = tmp_path / "config.json"
  saved = json.load(open(path))
  for field in config_diff.ADDED_FIELDS:
    section, name = field.split(".")
    del saved[section][name]
  json.dump(saved, open(path, "w"))
  run = train.train(tiny_config(), str(tmp_path))  # resumes to step 20
  assert np.asarray(run.last.step).tolist() == [20]


def test_m2_trains_and_is_evaluated_like_the_other_variants(tmp_path):
  config = tiny_config(num_steps=200, steps_per_call=50, eval_every=100,
                       checkpoint_every=200, diagnostics=True)
  config.model.variant = "m2"
  results = train.train_and_evaluate(config, str(tmp_path))
  records = [json.loads(l) for l in open(tmp_path / "metrics.jsonl")]
  train_records = [r for r in records if r["split"] == "train"]
  assert train_records[-1]["loss"] < 0.8 * train_records[0]["loss"]
  assert {"kl_y", "unlabeled_confidence", "y_reconstruction_gain"} <= set(
      train_records[0])
  assert results["sampling_mode"] == "mixed" and results["num_labeled"] == 50
  for name in ("accuracy", "log_loss", "elbo", "validation_metrics"):
    values = (results[name]["accuracy"] if name == "validation_metrics"
              else results["metrics"][name])
    assert np.isfinite(values[0]), name
  assert results["metrics"]["accuracy"][0] > 0.2  # chance is 0.1


def test_more_labels_than_data_is_a_clear_error(tmp_path):
  config = tiny_config()
  config.data.num_labels = 100_000
  with pytest.raises(ValueError, match="100000"):
    train.train(config, str(tmp_path))


# ------------------------------------------------- validation and selection


def test_validation_is_held_out_of_training_and_disjoint_from_test():
  config = tiny_config()
  config.data.validation_size = 150
  full = data_lib.load_dataset(config.data)
  exp = experiment_lib.build_experiment(config, devices=jax.devices()[:1])
  train_x, val_x = exp.dataset.train.x, exp.dataset.validation.x
  assert len(val_x) == 150 and len(train_x) == len(full.train) - 150
  rows = lambda a: {r.tobytes() for r in a.reshape(len(a), -1)}
  # Every validation point is a training image that is no longer trained on.
  assert rows(val_x) <= rows(full.train.x)
  assert not rows(val_x) & rows(train_x[np.asarray(exp.pools.labeled[0])])
  assert not rows(val_x) & rows(train_x[np.asarray(exp.pools.unlabeled[0])])
  np.testing.assert_array_equal(exp.dataset.test.x, full.test.x)
  # Stratified: every class keeps about its share.
  np.testing.assert_allclose(np.bincount(exp.dataset.validation.y) / 150,
                             np.bincount(full.train.y) / len(full.train),
                             atol=0.01)


def test_validation_holds_no_point_of_the_held_out_class():
  config = tiny_config()
  config.data.held_out_class = 3
  config.data.label_fraction = 0.1
  exp = experiment_lib.build_experiment(config, devices=jax.devices()[:1])
  assert 3 not in exp.dataset.validation.y
  assert 3 in exp.dataset.test.y


def _scripted_validation(monkeypatch, script):
  """Validation accuracy of seed s at step t is script[s][t]."""
  real = experiment_metrics.make_evaluator

  def make_evaluator(exp, split="test"):
    if split != "validation":
      return real(exp, split)
    def evaluate(state):
      steps_ = np.asarray(state.step)
      return {"accuracy": np.array([script[s][int(t)]
                                    for s, t in enumerate(steps_)])}
    return evaluate
  monkeypatch.setattr(experiment_metrics, "make_evaluator", make_evaluator)


# Evaluations every 5 steps; seed 0 peaks at step 10, seed 1 at step 20.
_SCRIPT = ({5: 0.5, 10: 0.9, 15: 0.8, 20: 0.7, 25: 0.6, 30: 0.5, 35: 0.4,
            40: 0.3},
           {5: 0.1, 10: 0.2, 15: 0.3, 20: 0.8, 25: 0.7, 30: 0.6, 35: 0.5,
            40: 0.4})


def _selection_config(**overrides):
  return tiny_config(**{"num_seeds": 2, "num_steps": 40, "eval_every": 5,
                        "checkpoint_every": 10, **overrides})


def test_each_seed_keeps_the_state_of_its_best_validation_step(
    tmp_path, monkeypatch):
  _scripted_validation(monkeypatch, _SCRIPT)
  run = train.train(_selection_config(), str(tmp_path / "full"),
                    devices=jax.devices()[:1])
  assert run.stop_reason == "num_steps" and run.selected_steps == [10, 20]
  for s, best_step in enumerate((10, 20)):
    short = train.train(_selection_config(num_steps=best_step),
                        str(tmp_path / f"to{best_step}"),
                        devices=jax.devices()[:1]).last
    chex.assert_trees_all_equal(
        jax.tree.map(lambda a: a[s], run.selected.params),
        jax.tree.map(lambda a: a[s], short.params))


def test_training_stops_when_every_seed_has_exhausted_its_patience(
    tmp_path, monkeypatch, capsys):
  _scripted_validation(monkeypatch, _SCRIPT)
  workdir = str(tmp_path)
  results = train.train_and_evaluate(_selection_config(patience=3), workdir)
  # Seed 1 (best at 20) runs out of patience at step 35; seed 0 earlier.
  assert results["stop_reason"] == "early_stop" and results["step"] == 35
  assert results["selected_step"] == [10, 20]
  assert results["protocol"]["select_metric"] == "accuracy"
  assert results["validation_metrics"]["accuracy"] == [0.9, 0.8]
  assert set(results["last_metrics"]) == set(results["metrics"])
  # The progress line says how near the stop is: the last one, at the stop.
  assert "evals_since_best=3/3" in capsys.readouterr().err.splitlines()[-1]
  # Rerunning a stopped run trains nothing more.
  again = train.train(_selection_config(patience=3), workdir)
  assert again.stop_reason == "early_stop"
  assert np.asarray(again.last.step).tolist() == [35, 35]


def test_interrupted_run_resumes_to_the_same_selected_state(
    tmp_path, monkeypatch):
  _scripted_validation(monkeypatch, _SCRIPT)
  config = _selection_config(patience=3)
  straight = train.train(config, str(tmp_path / "straight"))
  killed = str(tmp_path / "killed")
  train.train(config, killed, stop_after_step=25)  # last checkpoint: 20
  assert checkpointing.Checkpointer(killed).latest_step() == 20
  resumed = train.train(config, killed)
  assert resumed.selected_steps == straight.selected_steps == [10, 20]
  chex.assert_trees_all_equal(resumed.selection, straight.selection)
  chex.assert_trees_all_equal(resumed.last.params, straight.last.params)


def test_without_a_validation_split_the_last_step_is_reported(tmp_path):
  config = tiny_config()
  config.data.validation_size = 0
  results = train.train_and_evaluate(config, str(tmp_path))
  assert results["protocol"]["select_metric"] == "last"
  assert results["selected_step"] == [20]
  assert results["metrics"] == results["last_metrics"]
  assert "validation_metrics" not in results


def test_metrics_past_the_checkpoint_and_a_torn_last_line_are_dropped(
    tmp_path):
  path = tmp_path / "metrics.jsonl"
  path.write_text('{"step": 10, "split": "train"}\n'
                  '{"step": 20, "split": "train"}\n'
                  '{"step": 30, "split": "tra')
  assert run_dir.metrics_to_keep(str(path), 10) == [
      '{"step": 10, "split": "train"}\n']


def test_a_bad_metrics_line_before_the_last_is_an_error_naming_it(tmp_path):
  path = tmp_path / "metrics.jsonl"
  path.write_text('{"step": 10}\nnot json\n{"step": 20}\n')
  with pytest.raises(errors.WorkdirError, match=r"metrics.jsonl line 2 "):
    run_dir.metrics_to_keep(str(path), 20)


def test_labeled_indices_from_config_covers_every_label_setting():
  """One selection for train and the feedback protocol (-1 = every row)."""
  y = np.repeat(np.arange(3), 10)
  config = tiny_config()
  config.data.label_fraction = -1.0
  config.data.num_labels = -1
  np.testing.assert_array_equal(
      experiment_lib.labeled_indices_from_config(config, y, 3, seed=0),
      np.arange(30))
  config.data.num_labels = 6
  chosen = experiment_lib.labeled_indices_from_config(config, y, 3, seed=0)
  assert len(chosen) == 6 and np.bincount(y[chosen]).tolist() == [2, 2, 2]
  config.data.label_fraction = 0.5
  assert len(experiment_lib.labeled_indices_from_config(
      config, y, 3, seed=0)) == 15


def test_train_log_windows_cut_at_multiples_of_log_every():
  per_step = {"loss": np.arange(2 * 6, dtype=np.float32).reshape(2, 6)}
  # Steps 5..10 of a chunk ending at 10, log_every 4: records at 8 (steps
  # 5-8) and the steps 9-10 pending.
  records, pending = train.train_log_windows(None, per_step, 10, 4)
  assert [step for step, _ in records] == [8]
  np.testing.assert_allclose(records[0][1]["loss"], [1.5, 7.5])
  np.testing.assert_array_equal(pending["loss"], [[4, 5], [10, 11]])
  # The next chunk (steps 11..12) completes the window of steps 9-12.
  more = {"loss": np.array([[6, 7], [12, 13]], np.float32)}
  records, pending = train.train_log_windows(pending, more, 12, 4)
  assert [step for step, _ in records] == [12] and pending is None
  np.testing.assert_allclose(records[0][1]["loss"], [5.5, 11.5])
  # 0: the whole chunk, pending included; flush: the tail at the end.
  records, _ = train.train_log_windows(None, per_step, 10, 0)
  assert [step for step, _ in records] == [10]
  records, pending = train.train_log_windows(None, per_step, 10, 4, True)
  assert [step for step, _ in records] == [8, 10] and pending is None


def test_log_every_logs_train_scalars_independent_of_steps_per_call(
    tmp_path):
  config = tiny_config(steps_per_call=10, log_every=4)
  train.train_and_evaluate(config, str(tmp_path / "a"))
  records = [json.loads(l) for l in open(tmp_path / "a" / "metrics.jsonl")]
  assert [r["step"] for r in records if r["split"] == "train"] == [4, 8, 12,
                                                                   16, 20]
  # The steps trained do not depend on it: the same run, one record a
  # chunk, gives the same test metrics.
  train.train_and_evaluate(tiny_config(steps_per_call=10),
                                str(tmp_path / "b"))
  other = [json.loads(l) for l in open(tmp_path / "b" / "metrics.jsonl")]
  assert [r["step"] for r in other if r["split"] == "train"] == [10, 20]
  assert ([r for r in records if r["split"] == "test"]
          == [r for r in other if r["split"] == "test"])
  with pytest.raises(config_validation.ConfigError, match=r"train\.log_every"):
    config_validation.validate(tiny_config(log_every=-1))
