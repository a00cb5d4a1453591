"""Tests for ssvae.stacking and train.train_stacked: runs that differ only in
their points train as one program, with the numbers each has alone."""

import json
import os

import jax
import numpy as np
import pytest

from configs import common
from configs import default
from ssvae import data as data_lib
from ssvae import errors
from ssvae import experiment as experiment_lib
from ssvae import stacking
from ssvae import train

TIMING = ("examples_per_s", "wall_s", "cpu_s")


def tiny_config(**data_fields):
  config = common.tiny(default.base_config())
  config.model.hidden_sizes = (16,)
  config.data.num_labels = 20
  config.train.update(num_steps=30, eval_every=5, checkpoint_every=10,
                      steps_per_call=5, num_seeds=2, patience=1,
                      min_delta=0.5)
  config.data.update(data_fields)
  return config


# Three runs that stack: two label counts and a held-out class (another
# training split, selected on the ELBO, so it stops at another step).
CELLS = (dict(num_labels=20), dict(num_labels=40),
         dict(num_labels=-1, label_fraction=0.1, held_out_class=3))


def experiments():
  return [experiment_lib.build_experiment(tiny_config(**fields),
                                          jax.devices()[:1])
          for fields in CELLS]


def same_numbers(mine, theirs):
  """Equal, floats up to float32 rounding: XLA sums in another order at
  another vmap width, as it does for the seed axis (train_test)."""
  assert mine == pytest.approx(theirs, rel=1e-5, abs=1e-6)


def records(workdir):
  lines = open(os.path.join(workdir, "metrics.jsonl")).read().splitlines()
  return [{k: v for k, v in json.loads(line).items() if k not in TIMING}
          for line in lines]


def results(workdir):
  saved = json.load(open(os.path.join(workdir, "results.json")))
  return {k: v for k, v in saved.items() if k not in TIMING}


def assert_same_runs(workdirs, expected_workdirs):
  """Same curves and results.json, up to float32 rounding; the same steps
  stopped at and selected."""
  for mine, theirs in zip(workdirs, expected_workdirs, strict=True):
    for record, expected in zip(records(mine), records(theirs), strict=True):
      assert (record["step"], record["split"], record["seed"]) == (
          expected["step"], expected["split"], expected["seed"])
      same_numbers({k: v for k, v in record.items() if k != "split"},
                   {k: v for k, v in expected.items() if k != "split"})
    mine, theirs = results(mine), results(theirs)
    for key in ("step", "selected_step", "stop_reason", "seeds",
                "num_labeled", "sampling_mode"):
      assert mine[key] == theirs[key], key
    for key in ("metrics", "validation_metrics", "last_metrics"):
      for name, values in theirs[key].items():
        same_numbers(mine[key][name], values)


@pytest.fixture(scope="module")
def alone(tmp_path_factory):
  """Each run trained by itself: {index: workdir}."""
  root = tmp_path_factory.mktemp("alone")
  workdirs = [str(root / str(i)) for i in range(len(CELLS))]
  for exp, workdir in zip(experiments(), workdirs):
    train.train_and_evaluate(exp.config, workdir, experiment=exp)
  return workdirs


def test_stacked_runs_have_the_numbers_of_runs_alone(alone, tmp_path):
  workdirs = [str(tmp_path / str(i)) for i in range(len(CELLS))]
  outcomes = train.train_and_evaluate_stacked(experiments(), workdirs)
  stops = {outcome["step"] for outcome in outcomes}
  assert len(stops) > 1, "the runs should stop at different steps"
  assert_same_runs(workdirs, alone)


def test_a_killed_stack_resumes_to_the_same_numbers(alone, tmp_path):
  workdirs = [str(tmp_path / str(i)) for i in range(len(CELLS))]
  killed = train.train_stacked(experiments(), workdirs, stop_after_step=15)
  assert "interrupted" in {run.stop_reason for run in killed}
  train.train_and_evaluate_stacked(experiments(), workdirs)
  assert_same_runs(workdirs, alone)


def test_stack_shares_each_distinct_split_once_and_offsets_pools():
  exps = experiments()
  stack = stacking.stack(exps)
  same, held_out = len(exps[0].dataset.train), len(exps[2].dataset.train)
  assert len(stack.x) == same + held_out  # runs 0 and 1 share a split
  assert stack.rows == (slice(0, 2), slice(2, 4), slice(4, 6))
  assert stack.exp.seeds == (0, 1) * 3
  pools = stack.exp.pools
  held_out_labels = exps[2].pools.labeled.shape[1]
  assert pools.labeled.shape == (6, max(40, held_out_labels))
  np.testing.assert_array_equal(pools.labeled_size,
                                [20, 20, 40, 40] + [held_out_labels] * 2)
  np.testing.assert_array_equal(pools.labeled[0, :20], exps[0].pools.labeled[0])
  np.testing.assert_array_equal(pools.labeled[4, :pools.labeled_size[4]],
                                exps[2].pools.labeled[0] + same)
  np.testing.assert_array_equal(stack.x[same:], exps[2].dataset.train.x)


def test_a_padded_pool_draws_what_the_unpadded_one_does():
  x = np.arange(50, dtype=np.float32)[:, None]
  y = np.arange(50) % 5
  exact = data_lib.Pools(labeled=np.arange(7, dtype=np.int32),
                         unlabeled=np.arange(7, 50, dtype=np.int32))
  padded = data_lib.Pools(
      labeled=np.concatenate([exact.labeled, np.zeros(5, np.int32)]),
      unlabeled=np.concatenate([exact.unlabeled, np.zeros(9, np.int32)]),
      labeled_size=np.int32(7), unlabeled_size=np.int32(43))
  key = jax.random.key(0)
  want = data_lib.sample_batch(key, x, y, exact, 32, "mixed")
  got = jax.jit(lambda p: data_lib.sample_batch(key, x, y, p, 32, "mixed"))(
      padded)
  for name in want:
    np.testing.assert_array_equal(got[name], want[name])


def test_stack_key_ignores_only_the_fields_that_choose_points():
  base, seeded = tiny_config(), tiny_config()
  seeded.seed = 5
  assert (stacking.stack_key(base)
          == stacking.stack_key(tiny_config(num_labels=40, held_out_class=2))
          == stacking.stack_key(seeded))
  other = tiny_config()
  other.optimizer.learning_rate = 0.5
  assert stacking.stack_key(other) != stacking.stack_key(base)


def test_stack_refuses_runs_that_cannot_share_a_program():
  exps = experiments()
  other = tiny_config()
  other.optimizer.learning_rate = 0.5
  with pytest.raises(ValueError, match="differ in nothing but"):
    stacking.stack([exps[0], experiment_lib.build_experiment(
        other, jax.devices()[:1])])
  all_labels = experiment_lib.build_experiment(tiny_config(num_labels=-1),
                                               jax.devices()[:1])
  with pytest.raises(ValueError, match="sample batches differently"):
    stacking.stack([exps[0], all_labels])


def test_a_diverged_run_stops_alone_and_the_others_finish(alone, tmp_path,
                                                          monkeypatch):
  workdirs = [str(tmp_path / str(i)) for i in range(len(CELLS))]
  check_finite = train._check_finite

  def run_1_diverges_after_step_5(metrics, first_step, seeds, workdir, ckpt):
    if workdir == workdirs[1] and first_step >= 5:
      raise train._diverged("Planted", workdir, ckpt, step=first_step + 1,
                            seed=seeds[0])
    check_finite(metrics, first_step, seeds, workdir, ckpt)

  monkeypatch.setattr(train, "_check_finite", run_1_diverges_after_step_5)
  outcomes = train.train_and_evaluate_stacked(experiments(), workdirs)
  assert isinstance(outcomes[1], errors.TrainingDiverged)
  assert outcomes[1].step == 6
  assert not os.path.exists(os.path.join(workdirs[1], "results.json"))
  assert_same_runs([workdirs[0], workdirs[2]], [alone[0], alone[2]])
