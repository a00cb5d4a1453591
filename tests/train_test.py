"""Tests for ssvae.train: end to end, resume, multi-device, vmapped seeds."""

import json
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import default
from ssvae import checkpointing
from ssvae import config_validation
from ssvae import data as data_lib
from ssvae import steps
from ssvae import train


def tiny_config(**train_overrides):
  config = default.get_config()
  config.model.hidden_sizes = (32,)
  config.data.num_labels = 50
  config.train.batch_size = 16
  config.train.num_steps = 20
  config.train.steps_per_call = 5
  config.train.eval_every = 10
  config.train.checkpoint_every = 10
  config.train.eval_batch_size = 500
  config.train.update(train_overrides)
  return config


def final_params(workdir, exp, state_like):
  ckpt = checkpointing.Checkpointer(workdir)
  state = ckpt.restore(ckpt.latest_step(), like=state_like)
  ckpt.close()
  return state.params


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


def test_training_reduces_the_loss(tmp_path):
  config = tiny_config(num_steps=200, steps_per_call=50, eval_every=200,
                       checkpoint_every=200)
  train.train(config, str(tmp_path))
  records = [json.loads(l) for l in open(tmp_path / "metrics.jsonl")]
  losses = [r["loss"] for r in records if r["split"] == "train"]
  assert losses[-1] < 0.8 * losses[0]


def test_interrupted_run_resumes_to_identical_parameters(tmp_path):
  config = tiny_config()
  exp, uninterrupted = train.train(config, str(tmp_path / "straight"))
  killed_dir = str(tmp_path / "killed")
  # Stops after step 15; the last checkpoint is at step 10, so steps 11-15
  # are lost and redone, as after a kill.
  train.train(config, killed_dir, stop_after_step=15)
  assert checkpointing.Checkpointer(killed_dir).latest_step() == 10
  _, resumed = train.train(config, killed_dir)
  chex.assert_trees_all_equal(resumed.params, uninterrupted.params)
  steps = [json.loads(l)["step"] for l in open(os.path.join(killed_dir,
                                                             "metrics.jsonl"))
           if json.loads(l)["split"] == "train"]
  assert steps == [5, 10, 15, 20]  # the lost step-15 record was replaced


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
    exp = train.build_experiment(config, devices=jax.devices()[:n])
    state = train.init_train_state(exp)
    if batch is None:
      x = jnp.asarray(exp.dataset.train.x)
      y = jnp.asarray(exp.dataset.train.y)
      pools = jax.tree.map(lambda a: a[0], exp.pools)
      batch = jax.tree.map(lambda a: a[None], data_lib.sample_batch(
          jax.random.PRNGKey(3), x, y, pools, 16, exp.sampling_mode))
    step = train.make_parallel_train_step(exp)
    rng = jax.random.PRNGKey(4)[None]
    for _ in range(3):
      state, _ = step(state, batch, rng)
    params[n] = jax.device_get(state.params)
  chex.assert_trees_all_close(params[1], params[8], rtol=1e-5, atol=1e-6)


def test_vmapped_seeds_match_separate_runs(tmp_path):
  together = tiny_config(num_seeds=2)
  exp, state = train.train(together, str(tmp_path / "both"),
                           devices=jax.devices()[:2])
  for s, seed in enumerate((0, 1)):
    alone = tiny_config()
    alone.seed = seed
    _, single = train.train(alone, str(tmp_path / f"seed{seed}"),
                            devices=jax.devices()[:1])
    chex.assert_trees_all_close(
        jax.tree.map(lambda a: a[s], state.params),
        jax.tree.map(lambda a: a[0], single.params), rtol=1e-5, atol=1e-6)


def test_train_chunk_traces_the_step_once(monkeypatch):
  monkeypatch.setattr(steps, "train_step",
                      chex.assert_max_traces(steps.train_step, n=1))
  exp = train.build_experiment(tiny_config(), devices=jax.devices()[:1])
  state = train.init_train_state(exp)
  _, keys, _ = train.seed_keys(exp.seeds)
  x, y = jnp.asarray(exp.dataset.train.x), jnp.asarray(exp.dataset.train.y)
  pools = jax.tree.map(jnp.asarray, exp.pools)
  chunk = train.make_train_chunk(exp, 5)
  for _ in range(3):  # a retrace would raise inside assert_max_traces
    state, _ = chunk(state, pools, keys, x, y)
  assert int(state.step[0]) == 15


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
])
def test_bad_config_values_name_the_field(field, value, message):
  config = tiny_config()
  section, name = field.split(".")
  config[section][name] = value
  with pytest.raises(config_validation.ConfigError, match=message):
    config_validation.validate(config)


def test_more_labels_than_data_is_a_clear_error(tmp_path):
  config = tiny_config()
  config.data.num_labels = 100_000
  with pytest.raises(ValueError, match="100000"):
    train.train(config, str(tmp_path))
