"""Tests for ssvae.detect.finetune: growing a run by the feedback classes."""

import jax
import numpy as np
import pytest

from configs import common
from configs import default
from ssvae import steps
from ssvae import train
from ssvae.detect import finetune
from ssvae.detect import feedback

FP, FN = 10, 11  # digits has 10 classes


def tiny_config(variant="semi_supervised"):
  config = common.tiny(default.base_config())
  config.model.variant = variant
  config.data.num_labels = 50
  config.train.checkpoint_every = 10
  config.train.num_seeds = 2
  return config


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  run = train.train(tiny_config(), str(tmp_path_factory.mktemp("run")),
                    devices=jax.devices()[:1])
  return run.exp, run.last


def some_points(exp, num_fp=2, num_fn=3):
  x = exp.dataset.test.x[:num_fp + num_fn]
  labels = feedback.FeedbackLabels(np.arange(num_fp),
                                   num_fp + np.arange(num_fn))
  return finetune.points_from_labels(x, labels, exp.dataset.num_classes)


def test_points_carry_the_feedback_classes_and_a_content_digest(trained):
  exp, _ = trained
  points = some_points(exp)
  assert points.label.tolist() == [FP, FP, FN, FN, FN]
  np.testing.assert_array_equal(points.x, exp.dataset.test.x[:5])
  assert points.digest() == some_points(exp).digest()
  assert points.digest() != some_points(exp, 3, 2).digest()


def test_feedback_classes_are_repeated_to_an_average_labeled_class():
  assert finetune.repeats(5, labeled_per_class=50.0) == 10
  assert finetune.repeats(200, labeled_per_class=50.0) == 1
  assert finetune.repeats(0, labeled_per_class=50.0) == 0


def test_extended_experiment_appends_labeled_copies_of_the_points(trained):
  exp, _ = trained
  points = some_points(exp)
  config = finetune.finetune_config(exp.config, exp.seeds[1], 20)
  extended = finetune.extended_experiment(exp, 1, points, config)
  num_base = len(exp.dataset.train)
  # 50 labels over 10 classes: 5 a class, so 2 FP points x2 and 3 FN x2.
  y = extended.dataset.train.y
  assert extended.dataset.num_classes == 12 and len(y) == num_base + 10
  assert y[num_base:].tolist() == [FP] * 4 + [FN] * 6
  np.testing.assert_array_equal(extended.dataset.train.x[num_base + 2],
                                points.x[0])
  labeled = np.asarray(extended.pools.labeled[0])
  np.testing.assert_array_equal(
      labeled, np.r_[np.asarray(exp.pools.labeled[1]),
                     num_base + np.arange(10)])
  np.testing.assert_array_equal(extended.pools.unlabeled[0],
                                exp.pools.unlabeled[1])
  assert extended.seeds == (exp.seeds[1],)
  assert extended.dataset.validation is exp.dataset.validation


def test_grown_state_keeps_the_trained_weights_and_zeros_the_new_ones(trained):
  exp, state = trained
  config = finetune.finetune_config(exp.config, exp.seeds[0], 20)
  extended = finetune.extended_experiment(exp, 0, some_points(exp),
                                                 config)
  old = steps.seed_slice(state, 0)
  grown = finetune.grow_state(old, extended, exp.seeds[0])
  head = grown.params["heads"]["class_logits_0"]
  np.testing.assert_array_equal(head["kernel"][:, :10],
                                old.params["heads"]["class_logits_0"]["kernel"])
  assert not np.any(head["kernel"][:, 10:]) and not np.any(head["bias"][10:])
  decoder_in = grown.params["decoder_layers_0"]["kernel"]
  assert decoder_in.shape[0] == 2 + 12  # concat(z, y)
  assert not np.any(decoder_in[-2:])
  x = exp.dataset.test.x[:7]
  old_logits = steps.model_fns(exp.model, old)[0](x)[2]
  new_logits = steps.model_fns(extended.model, grown)[0](x)[2]
  np.testing.assert_allclose(new_logits[:, :10], old_logits, rtol=1e-6)
  np.testing.assert_array_equal(new_logits[:, 10:], 0.0)
  assert int(grown.step) == 0


def test_only_semi_supervised_runs_take_feedback():
  with pytest.raises(ValueError, match="Feedback needs a class head and a "
                     "decoder; this run's model is 'unsupervised'"):
    finetune.check_can_take_feedback("unsupervised")


def test_finetune_config_runs_one_seed_and_keeps_the_last_state():
  config = finetune.finetune_config(tiny_config(), seed=7,
                                           num_steps=3)
  assert config.seed == 7 and config.train.num_seeds == 1
  assert config.train.num_steps == config.train.eval_every == 3
  assert config.train.steps_per_call == 3
  assert config.train.select_metric == "last"
  with pytest.raises(ValueError, match="positive number of steps"):
    finetune.finetune_config(tiny_config(), seed=7, num_steps=0)
