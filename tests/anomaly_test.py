"""Tests for reconstruction-probability anomaly scores with hand-made models."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ssvae.metrics import anomaly


def _gaussian_log_pdf(x, mean, var):
  return -0.5 * (np.log(2 * np.pi * var) + (x - mean) ** 2 / var)


def _encoder(mean, logvar, class_logits=None):
  """encode_fn returning fixed posterior parameters for every row of x."""
  def encode_fn(x):
    n = x.shape[0]
    logits = None if class_logits is None else jnp.broadcast_to(
        class_logits, (n,) + jnp.shape(class_logits)[-1:])
    return (jnp.broadcast_to(mean, (n,) + jnp.shape(mean)[-1:]),
            jnp.broadcast_to(logvar, (n,) + jnp.shape(logvar)[-1:]), logits)
  return encode_fn


def _identity_gaussian_decoder(var):
  """Decoder mean = z (x and z both [N, 1]), fixed variance."""
  def decode_fn(z, y):
    assert y is None
    return z, jnp.full_like(z, var)
  return decode_fn


def test_deterministic_posterior_bernoulli_matches_hand_computation():
  # logvar -> -inf makes z = mean exactly, so every L gives the same value.
  x = jnp.array([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
  encode_fn = _encoder(jnp.array([0.5]), jnp.array([-200.0]))

  def decode_fn(z, y):
    del y
    return jnp.broadcast_to(jnp.array([0.0, math.log(3.0), -math.log(3.0)]),
                            (z.shape[0], 3)) + 0.0 * z, None

  # p = sigmoid(logits) = [1/2, 3/4, 1/4].
  expected = np.array([math.log(0.5 * 0.25 * 0.25),
                       math.log(0.5 * 0.25 * 0.75)])
  for num_samples in (1, 7):
    got = anomaly.reconstruction_log_prob(encode_fn, decode_fn, x,
                                          jax.random.key(0), num_samples,
                                          "bernoulli")
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_monte_carlo_estimate_matches_analytic_marginal():
  # z ~ N(mu, s2), x | z ~ N(z, v)  =>  p_rec(x) = E_z p(x|z) = N(x; mu, s2 + v).
  mu, s2, v = 0.3, 0.5, 0.8
  x = jnp.array([[-1.0], [0.3], [2.0]])
  encode_fn = _encoder(jnp.array([mu]), jnp.array([math.log(s2)]))
  got = anomaly.reconstruction_log_prob(encode_fn,
                                        _identity_gaussian_decoder(v), x,
                                        jax.random.key(1), 20000, "gaussian")
  expected = _gaussian_log_pdf(np.array([-1.0, 0.3, 2.0]), mu, s2 + v)
  np.testing.assert_allclose(got, expected, atol=0.02)


def test_single_sample_is_noisier_and_biased_low():
  mu, s2, v = 0.0, 1.0, 0.25
  x = jnp.array([[1.5]])
  encode_fn = _encoder(jnp.array([mu]), jnp.array([math.log(s2)]))
  decode_fn = _identity_gaussian_decoder(v)
  analytic = _gaussian_log_pdf(1.5, mu, s2 + v)

  def estimates(num_samples):
    return np.array([
        anomaly.reconstruction_log_prob(encode_fn, decode_fn, x,
                                        jax.random.key(seed), num_samples,
                                        "gaussian")[0]
        for seed in range(40)])

  one, many = estimates(1), estimates(2000)
  assert one.std() > 10 * many.std()
  # Jensen: E[log p(x|z)] < log E[p(x|z)], by a clear margin here.
  assert one.mean() < analytic - 0.5
  assert abs(many.mean() - analytic) < 0.05


def test_decoder_gets_the_y_of_encode_fn_unchanged():
  """The decoder's view of y is the model's (model.decoder_inputs); the
  score decodes it as given."""
  x = jnp.zeros((2, 2))
  encode_fn = _encoder(jnp.array([0.0]), jnp.array([-200.0]),
                       jnp.array([0.25, 0.75]))
  seen = {}

  def decode_fn(z, y):
    seen["y"] = y
    return y + 0.0 * z, jnp.ones_like(y)

  got = anomaly.reconstruction_log_prob(encode_fn, decode_fn, x,
                                        jax.random.key(0), 3, "gaussian")
  np.testing.assert_allclose(seen["y"], [[0.25, 0.75]] * 2, rtol=1e-6)
  expected = _gaussian_log_pdf(0.0, 0.25, 1.0) + _gaussian_log_pdf(0.0, 0.75, 1.0)
  np.testing.assert_allclose(got, [expected] * 2, rtol=1e-5)


def test_gaussian_without_variance_is_a_clear_error():
  encode_fn = _encoder(jnp.array([0.0]), jnp.array([0.0]))
  with pytest.raises(ValueError, match="recon_var=None"):
    anomaly.reconstruction_log_prob(encode_fn, lambda z, y: (z, None),
                                    jnp.zeros((2, 1)), jax.random.key(0), 2,
                                    "gaussian")


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_samples=0, likelihood="gaussian"), "num_samples"),
    (dict(num_samples=2, likelihood="poisson"), "Unknown likelihood"),
])
def test_bad_arguments(kwargs, message):
  encode_fn = _encoder(jnp.array([0.0]), jnp.array([0.0]))
  with pytest.raises(ValueError, match=message):
    anomaly.reconstruction_log_prob(encode_fn, _identity_gaussian_decoder(1.0),
                                    jnp.zeros((2, 1)), jax.random.key(0),
                                    **kwargs)


def test_anomaly_scores_are_negative_log_prob_and_batch_independent():
  encode_fn = _encoder(jnp.array([0.0]), jnp.array([-200.0]))
  x = np.linspace(-3, 3, 7, dtype=np.float32)[:, None]
  expected = -_gaussian_log_pdf(x[:, 0], 0.0, 2.0)
  for batch_size in (3, 100):
    got = anomaly.anomaly_scores(encode_fn, _identity_gaussian_decoder(2.0), x,
                                 jax.random.key(0), 4, "gaussian",
                                 batch_size=batch_size)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
  # Far-away points score higher.
  assert got[0] > got[3] and got[6] > got[3]


def test_roc_auc_values():
  is_anomaly = np.array([False, False, True, True])
  assert anomaly.roc_auc([0.1, 0.2, 0.8, 0.9], is_anomaly) == 1.0
  assert anomaly.roc_auc([0.9, 0.8, 0.2, 0.1], is_anomaly) == 0.0
  assert anomaly.roc_auc([0.5, 0.5, 0.5, 0.5], [0, 0, 1, 1]) == 0.5
  # One of 4 (anomaly, normal) pairs mis-ordered.
  assert anomaly.roc_auc([0.1, 0.85, 0.8, 0.9], is_anomaly) == 0.75


@pytest.mark.parametrize("scores, labels, message", [
    ([0.1, 0.2], [False, False], "no anomalies"),
    ([0.1, 0.2], [True, True], "no normal points"),
    ([0.1, 0.2, 0.3], [True, False], "equal length"),
    ([0.1, np.nan], [True, False], "non-finite"),
    ([0.1, 0.2], [2, 0], "boolean"),
])
def test_roc_auc_errors(scores, labels, message):
  with pytest.raises(ValueError, match=message):
    anomaly.roc_auc(scores, labels)


def test_held_out_class_mask():
  np.testing.assert_array_equal(
      anomaly.held_out_class_mask(np.array([0, 3, 1, 3]), 3),
      [False, True, False, True])
  with pytest.raises(ValueError, match="does not occur"):
    anomaly.held_out_class_mask(np.array([0, 1]), 3)
