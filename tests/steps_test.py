"""Tests for ssvae/steps.py: the unlabeled-data options change what they should
and nothing else, and the diagnostics of the unlabeled half."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from sklearn import datasets

from configs import default
from ssvae import losses
from ssvae import model_spec
from ssvae import models
from ssvae import steps
from ssvae.models import dense
from ssvae.models import rnn

NUM_CLASSES = 10


def _model(**overrides):
  config = default.base_config().model
  config.hidden_sizes = (16,)
  config.update(overrides)
  return models.build_model(config, input_shape=(8, 8, 1),
                            num_classes=NUM_CLASSES,
                            likelihood=model_spec.BERNOULLI)


def _digits():
  """16 of scikit-learn's 8x8 digits in [0, 1], [16, 8, 8, 1], and labels."""
  data = datasets.load_digits()
  x = (data.images[:16] / 16.0).astype(np.float32)[..., None]
  return jnp.asarray(x), jnp.asarray(data.target[:16], jnp.int32)


def _batch():
  x, y = _digits()
  mask = jnp.concatenate([jnp.ones(8), jnp.zeros(8)])
  return {"x": x, "label": y, "label_mask": mask}


def _loss_config(**overrides):
  config = default.base_config().loss
  config.update(overrides)
  return config


def _setup(model):
  tx = steps.make_optimizer(default.base_config().optimizer)
  state = steps.init_state(model, tx, jax.random.key(0),
                           jnp.zeros((2, 8, 8, 1)))
  return tx, state


def _step(model, loss_config=None, diagnostics=False, state=None):
  tx, initial = _setup(model)
  return steps.train_step(
      state or initial, _batch(), jax.random.key(1), model=model, tx=tx,
      loss_config=loss_config or _loss_config(),
      likelihood=model_spec.BERNOULLI, diagnostics=diagnostics)


def _paper_step(model):
  """The train step as it was before the unlabeled-data options: softmax y,
  no penalty."""
  tx, state = _setup(model)
  batch = _batch()
  latent_key, dropout_key = jax.random.split(jax.random.key(1))
  def loss_fn(params):
    output = model.apply({"params": params}, batch["x"], train=True,
                         rngs={"latent": latent_key, "dropout": dropout_key})
    return losses.ssvae_loss(
        x=batch["x"], labels=batch["label"], label_mask=batch["label_mask"],
        class_logits=output.class_logits, z_mean=output.z_mean,
        z_logvar=output.z_logvar, recon_loc=output.recon_loc,
        alpha=1.0, beta=1.0)[0]
  loss, grads = jax.value_and_grad(loss_fn)(state.params)
  updates, _ = tx.update(grads, state.opt_state, state.params)
  return loss, jax.tree.map(lambda p, u: p + u, state.params, updates)


def test_default_options_give_the_papers_step_bit_for_bit():
  model = _model()
  state, metrics = jax.jit(lambda: _step(model))()
  loss, params = jax.jit(lambda: _paper_step(model))()
  assert metrics["loss"] == loss
  chex.assert_trees_all_equal(state.params, params)


def test_entropy_weight_adds_its_term_to_the_loss_only():
  model = _model()
  _, paper = _step(model)
  _, penalised = _step(model, _loss_config(unlabeled_entropy_weight=20.0))
  np.testing.assert_allclose(
      penalised["loss"], paper["loss"] + 20.0 * paper["unlabeled_entropy"],
      rtol=1e-6)
  for name in ("reconstruction", "kl", "classification", "unlabeled_entropy"):
    assert penalised[name] == paper[name], name
  assert penalised["grad_norm"] != paper["grad_norm"]


def test_classifier_and_decoder_models_log_unlabeled_confidence():
  _, metrics = _step(_model())
  assert 1 / NUM_CLASSES <= float(metrics["unlabeled_confidence"]) <= 1
  assert 0 <= float(metrics["unlabeled_entropy"]) <= np.log(NUM_CLASSES)
  _, supervised = _step(_model(variant=model_spec.SUPERVISED))
  assert "unlabeled_confidence" not in supervised


@pytest.mark.parametrize("variant", [model_spec.SEMI_SUPERVISED, model_spec.M2])
def test_diagnostics_are_opt_in_and_change_no_parameter(variant):
  model = _model(variant=variant)
  plain_state, plain = _step(model)
  state, metrics = _step(model, diagnostics=True)
  assert "y_reconstruction_gain" not in plain
  chex.assert_trees_all_equal(state.params, plain_state.params)
  np.testing.assert_allclose(
      metrics["y_reconstruction_gain"],
      metrics["unlabeled_reconstruction_shuffled_y"]
      - metrics["unlabeled_reconstruction"], rtol=1e-6)
  np.testing.assert_allclose(
      metrics["z_reconstruction_gain"],
      metrics["unlabeled_reconstruction_prior_z"]
      - metrics["unlabeled_reconstruction"], rtol=1e-6)
  _, unsupervised = _step(_model(variant=model_spec.UNSUPERVISED),
                          diagnostics=True)
  assert "y_reconstruction_gain" not in unsupervised


def test_gumbel_temperature_follows_the_train_state_step():
  model = _model(decoder_y=model_spec.GUMBEL_SOFTMAX, gumbel_anneal_steps=10)
  _, state = _setup(model)
  _, early = _step(model, state=state)
  _, late = _step(model, state=state.replace(step=jnp.int32(10)))
  assert early["reconstruction"] != late["reconstruction"]


def test_m2_step_uses_the_m2_loss():
  model = _model(variant=model_spec.M2)
  _, metrics = _step(model)
  _, state = _setup(model)
  batch = _batch()
  latent_key, dropout_key = jax.random.split(jax.random.key(1))
  output = model.apply({"params": state.params}, batch["x"], train=True,
                       rngs={"latent": latent_key, "dropout": dropout_key})
  total, _ = losses.m2_loss(
      x=batch["x"], labels=batch["label"], label_mask=batch["label_mask"],
      class_logits=output.class_logits, z_mean=output.z_mean,
      z_logvar=output.z_logvar, recon_loc=output.recon_loc)
  np.testing.assert_allclose(metrics["loss"], total, rtol=1e-6)
  assert "kl_y" in metrics


def test_m2_evaluation_reports_the_label_free_bound():
  model = _model(variant=model_spec.M2)
  _, state = _setup(model)
  x, y = _digits()
  key = jax.random.key(2)
  sums = steps.eval_sums(state, x, y, key, model=model,
                         likelihood=model_spec.BERNOULLI)
  output = model.apply({"params": state.params}, x, train=False,
                       rngs={"latent": key})
  # U(x) with every point unlabeled: the m2 loss at alpha 0, mask 0.
  total, _ = losses.m2_loss(
      x=x, labels=y, label_mask=jnp.zeros(16), class_logits=output.class_logits,
      z_mean=output.z_mean, z_logvar=output.z_logvar,
      recon_loc=output.recon_loc, alpha=0.0)
  np.testing.assert_allclose(sums["elbo"] / sums["count"], -total, rtol=1e-5)
  np.testing.assert_allclose(sums["accuracy"], np.sum(
      np.argmax(output.class_logits, -1) == y))


def test_m2_labeled_first_step_enumerates_only_the_unlabeled_half():
  model = _model(variant=model_spec.M2)
  tx, state = _setup(model)
  batch = _batch()
  step = lambda b: steps.train_step(
      state, b, jax.random.key(1), model=model, tx=tx,
      loss_config=_loss_config(), likelihood=model_spec.BERNOULLI,
      labeled_first=8)
  _, metrics = step(batch)
  latent_key, dropout_key = jax.random.split(jax.random.key(1))
  labeled, unlabeled = model.apply(
      {"params": state.params}, batch["x"], batch["label"][:8], train=True,
      method="m2_labeled_first",
      rngs={"latent": latent_key, "dropout": dropout_key})
  assert unlabeled.z.shape[:2] == (8, NUM_CLASSES) and labeled.z.shape[1] == 1
  total, _ = losses.m2_loss_labeled_first(
      x=batch["x"], labels=batch["label"], label_mask=batch["label_mask"],
      labeled=labeled, unlabeled=unlabeled)
  np.testing.assert_allclose(metrics["loss"], total, rtol=1e-6)
  _, full = _step(model)  # labeled_first=0: every point enumerated
  for name in ("classification", "kl_y", "unlabeled_entropy"):
    np.testing.assert_allclose(metrics[name], full[name], rtol=1e-5)
  _, shuffled = step(dict(batch, label_mask=batch["label_mask"][::-1]))
  assert np.isnan(shuffled["loss"])


def _optimizer_config(**overrides):
  config = default.base_config().optimizer
  config.update(overrides)
  return config


def test_rmsprop_readings_are_optax_rmsprop_with_those_averages():
  grads = {"w": jnp.array([0.5, -2.0])}
  for decay, momentum in ((0.9, 0.9), (0.9, 0.0), (0.0, 0.9)):
    tx = steps.make_optimizer(_optimizer_config(decay=decay,
                                                momentum=momentum))
    expected = optax.rmsprop(1e-3, decay=decay, momentum=momentum)
    got, _ = tx.update(grads, tx.init(grads))
    want, _ = expected.update(grads, expected.init(grads))
    np.testing.assert_allclose(got["w"], want["w"])
  # decay 0 (the TF1 reading) scales every coordinate to the same size.
  tx = steps.make_optimizer(_optimizer_config(decay=0.0, momentum=0.0))
  update, _ = tx.update(grads, tx.init(grads))
  np.testing.assert_allclose(jnp.abs(update["w"]), [1e-3, 1e-3], rtol=1e-4)


def test_adam_takes_momentum_as_b1_and_decay_as_b2():
  grads = {"w": jnp.array([0.5, -2.0])}
  tx = steps.make_optimizer(_optimizer_config(name="adam", decay=0.99,
                                              momentum=0.5))
  expected = optax.adam(1e-3, b1=0.5, b2=0.99)
  state, want_state = tx.init(grads), expected.init(grads)
  for _ in range(3):
    got, state = tx.update(grads, state)
    want, want_state = expected.update(grads, want_state)
  np.testing.assert_allclose(got["w"], want["w"])


def test_constant_schedule_keeps_the_optimizer_state_of_a_plain_rate():
  # Checkpoints from before schedules existed must restore: same state tree.
  params = {"w": jnp.zeros(2)}
  tx = steps.make_optimizer(_optimizer_config())
  plain = optax.rmsprop(1e-3, decay=0.9, momentum=0.9)
  assert (jax.tree_util.tree_structure(tx.init(params))
          == jax.tree_util.tree_structure(plain.init(params)))


@pytest.mark.parametrize("schedule,expected", [
    ("warmup_cosine", {0: 0.0, 10: 1e-3, 55: 5e-4, 100: 0.0}),
    ("exponential", {0: 1e-3, 10: 1e-3, 110: 5e-4, 210: 2.5e-4}),
])
def test_learning_rate_schedules(schedule, expected):
  rate = steps.learning_rate_schedule(_optimizer_config(
      schedule=schedule, warmup_steps=10, decay_steps=100))
  for step, value in expected.items():
    np.testing.assert_allclose(rate(step), value, atol=1e-9)


# ------------------------------------------------------------- diagnostics

DIAG_X = jax.random.bernoulli(jax.random.key(0), 0.5, (6, 4, 4, 1)).astype(
    jnp.float32)
DIAG_MASK = jnp.array([1.0, 1.0, 0.0, 0.0, 0.0, 0.0])


def test_unlabeled_confidence_is_the_mean_max_probability_of_unlabeled():
  logits = jnp.log(jnp.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7]]))
  mask = jnp.array([1.0, 0.0, 0.0])
  np.testing.assert_allclose(
      steps.unlabeled_confidence(logits, mask), (0.6 + 0.7) / 2,
      rtol=1e-6)


def _model_and_variables(variant=model_spec.SEMI_SUPERVISED):
  model = dense.DenseVAE((4, 4, 1), 3, variant=variant, hidden_sizes=(8,))
  variables = model.init(
      {"params": jax.random.key(1), "latent": jax.random.key(2)}, DIAG_X,
      train=False)
  return model, variables


def test_a_decoder_that_ignores_y_gains_nothing_through_y():
  model, variables = _model_and_variables()
  params = variables["params"]
  kernel = params["decoder_layers_0"]["kernel"]
  params["decoder_layers_0"]["kernel"] = kernel.at[-3:].set(0.0)  # y rows
  split = steps.reconstruction_split(model, variables, DIAG_X, DIAG_MASK,
                                           model_spec.BERNOULLI)
  assert split["y_reconstruction_gain"] == 0.0
  assert split["z_reconstruction_gain"] != 0.0


def test_a_decoder_that_ignores_z_gains_nothing_through_z():
  model, variables = _model_and_variables(model_spec.M2)
  params = variables["params"]
  kernel = params["decoder_layers_0"]["kernel"]
  params["decoder_layers_0"]["kernel"] = kernel.at[:2].set(0.0)  # z rows
  split = steps.reconstruction_split(model, variables, DIAG_X, DIAG_MASK,
                                           model_spec.BERNOULLI)
  assert split["z_reconstruction_gain"] == 0.0
  base = split["unlabeled_reconstruction"]
  assert np.isfinite(base) and base > 0


def test_the_rnn_split_decodes_the_per_step_y_its_decoder_trains_on():
  model = rnn.RnnVAE((6, 3), 4, hidden_sizes=(5, 7, 4),
                     likelihood=model_spec.GAUSSIAN)
  x = jax.random.normal(jax.random.key(0), (6, 6, 3))
  variables = model.init(
      {"params": jax.random.key(1), "latent": jax.random.key(2)}, x,
      train=False)
  split = steps.reconstruction_split(model, variables, x, DIAG_MASK,
                                     model_spec.GAUSSIAN)

  def reconstruction(y):
    z_mean = model.apply(variables, x, method="decoder_inputs")[0]
    loc, var = model.apply(variables, z_mean, y, method="decode")
    return losses.unlabeled_mean(-losses.reconstruction_log_likelihood(
        x, loc, var, model_spec.GAUSSIAN), DIAG_MASK)

  step_y = model.apply(variables, x, method="decoder_inputs")[2]
  window_logits = model.apply(variables, x, method="encode")[2]
  assert step_y.shape == (6, 6, 4)
  np.testing.assert_allclose(split["unlabeled_reconstruction"],
                             reconstruction(step_y), rtol=1e-6)
  assert not np.isclose(split["unlabeled_reconstruction"],
                        reconstruction(jax.nn.softmax(window_logits)),
                        rtol=1e-6)
