"""Tests for ssvae.losses against hand computations and at edge cases."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ssvae import losses
from ssvae import model_spec


def test_bernoulli_log_likelihood_matches_hand_computation():
  x = jnp.array([[1.0, 0.0, 0.5]])
  logits = jnp.array([[2.0, -1.0, 0.3]])
  p = 1 / (1 + np.exp(-np.array([2.0, -1.0, 0.3])))
  expected = (np.log(p[0]) + np.log(1 - p[1])
              + 0.5 * np.log(p[2]) + 0.5 * np.log(1 - p[2]))
  np.testing.assert_allclose(losses.bernoulli_log_likelihood(x, logits),
                             [expected], rtol=1e-5)


def test_gaussian_log_likelihood_matches_hand_computation():
  x = jnp.array([[0.5, -1.0]])
  mean = jnp.array([[0.0, 1.0]])
  var = jnp.array([[2.0, 0.5]])
  expected = sum(-0.5 * np.log(2 * np.pi * v) - (a - m) ** 2 / (2 * v)
                 for a, m, v in [(0.5, 0.0, 2.0), (-1.0, 1.0, 0.5)])
  np.testing.assert_allclose(losses.gaussian_log_likelihood(x, mean, var),
                             [expected], rtol=1e-5)


def test_kl_is_zero_at_prior_and_matches_formula():
  zeros = jnp.zeros((2, 3))
  np.testing.assert_allclose(losses.kl_to_standard_normal(zeros, zeros), 0.0)
  mean, logvar = jnp.array([[1.0, -2.0]]), jnp.array([[0.5, -0.3]])
  expected = sum(0.5 * (np.exp(lv) + m**2 - 1 - lv)
                 for m, lv in [(1.0, 0.5), (-2.0, -0.3)])
  np.testing.assert_allclose(losses.kl_to_standard_normal(mean, logvar),
                             [expected], rtol=1e-5)


def test_masked_cross_entropy_averages_over_labeled_points_only():
  logits = jnp.array([[2.0, 0.0], [0.0, 3.0], [5.0, -5.0]])
  labels = jnp.array([0, 0, 1])
  mask = jnp.array([1.0, 1.0, 0.0])
  ce = lambda l, y: -(l[y] - np.log(np.exp(l).sum()))
  expected = (ce(np.array([2.0, 0.0]), 0) + ce(np.array([0.0, 3.0]), 0)) / 2
  loss, n = losses.masked_cross_entropy(logits, labels, mask)
  np.testing.assert_allclose(loss, expected, rtol=1e-5)
  assert n == 2


@pytest.mark.parametrize("mask", [[0.0, 0.0], [1.0, 1.0]])
def test_cross_entropy_and_its_gradient_are_finite_at_edges(mask):
  logits = jnp.array([[1e4, -1e4], [-1e4, 1e4]])  # extreme logits
  labels = jnp.array([1, 0])  # and confidently wrong
  mask = jnp.array(mask)
  loss, _ = losses.masked_cross_entropy(logits, labels, mask)
  grad = jax.grad(lambda l: losses.masked_cross_entropy(l, labels, mask)[0])(
      logits)
  assert np.isfinite(loss) and np.all(np.isfinite(grad))
  if mask.sum() == 0:
    assert loss == 0.0 and np.all(grad == 0.0)


def test_unlabeled_nan_logits_do_not_leak_into_loss():
  logits = jnp.array([[1.0, 2.0], [jnp.nan, 0.0]])
  loss, _ = losses.masked_cross_entropy(logits, jnp.array([1, 0]),
                                        jnp.array([1.0, 0.0]))
  assert np.isfinite(loss)


def _batch(rng, b=4, d=3, c=2):
  k = jax.random.split(rng, 5)
  return dict(
      x=jax.random.bernoulli(k[0], 0.5, (b, 6)).astype(jnp.float32),
      labels=jax.random.randint(k[1], (b,), 0, c),
      label_mask=jnp.array([1.0, 1.0, 0.0, 0.0]),
      class_logits=jax.random.normal(k[2], (b, c)),
      z_mean=jax.random.normal(k[3], (b, d)),
      z_logvar=0.1 * jax.random.normal(k[4], (b, d)),
      recon_loc=jax.random.normal(k[0], (b, 6)))


def test_ssvae_loss_combines_terms_with_alpha_and_beta():
  batch = _batch(jax.random.PRNGKey(0))
  total, terms = losses.ssvae_loss(**batch, alpha=3.0, beta=0.5)
  recon = -np.mean(losses.bernoulli_log_likelihood(batch["x"],
                                                   batch["recon_loc"]))
  kl = np.mean(losses.kl_to_standard_normal(batch["z_mean"],
                                            batch["z_logvar"]))
  ce, _ = losses.masked_cross_entropy(batch["class_logits"], batch["labels"],
                                      batch["label_mask"])
  np.testing.assert_allclose(terms["reconstruction"], recon, rtol=1e-5)
  np.testing.assert_allclose(terms["kl"], kl, rtol=1e-5)
  np.testing.assert_allclose(terms["classification"], ce, rtol=1e-5)
  np.testing.assert_allclose(total, recon + 0.5 * kl + 3.0 * ce, rtol=1e-5)
  np.testing.assert_allclose(terms["elbo"], -(recon + kl), rtol=1e-5)
  assert terms["num_labeled"] == 2


def test_siblings_drop_their_absent_terms():
  batch = _batch(jax.random.PRNGKey(1))
  supervised = dict(batch, z_mean=None, z_logvar=None, recon_loc=None)
  total, terms = losses.ssvae_loss(**supervised)
  assert terms["reconstruction"] == 0 and terms["kl"] == 0
  np.testing.assert_allclose(total, terms["classification"])
  unsupervised = dict(batch, class_logits=None)
  total, terms = losses.ssvae_loss(**unsupervised)
  assert terms["classification"] == 0
  np.testing.assert_allclose(total, -terms["elbo"], rtol=1e-6)


def test_left_out_arguments_are_the_siblings_as_the_readme_says():
  batch = _batch(jax.random.PRNGKey(1))
  classifier = {k: batch[k] for k in ("x", "labels", "label_mask",
                                      "class_logits")}
  total, terms = losses.ssvae_loss(**classifier)
  np.testing.assert_allclose(total, terms["classification"])
  vae = {k: v for k, v in batch.items() if k != "class_logits"}
  total, terms = losses.ssvae_loss(**vae)
  assert terms["classification"] == 0 and np.ndim(terms["elbo"]) == 0


def test_factor_logits_add_one_cross_entropy_per_factor():
  labels = jnp.array([[0, 2], [1, 0]])
  mask = jnp.ones(2)
  f0 = jnp.array([[1.0, 0.0], [0.0, 1.0]])
  f1 = jnp.array([[0.0, 0.0, 1.0], [2.0, 0.0, 0.0]])
  _, terms = losses.ssvae_loss(x=jnp.zeros((2, 1)), labels=labels,
                               label_mask=mask, class_logits=f0, z_mean=None,
                               z_logvar=None, recon_loc=None,
                               factor_logits=(f0, f1))
  expected = (losses.masked_cross_entropy(f0, labels[:, 0], mask)[0]
              + losses.masked_cross_entropy(f1, labels[:, 1], mask)[0])
  np.testing.assert_allclose(terms["classification"], expected, rtol=1e-6)


def test_ssvae_loss_gradient_is_finite_without_labels():
  batch = _batch(jax.random.PRNGKey(2))
  batch["label_mask"] = jnp.zeros(4)
  grads = jax.grad(lambda logits: losses.ssvae_loss(
      **dict(batch, class_logits=logits))[0])(batch["class_logits"])
  assert np.all(np.isfinite(grads))


def test_unknown_likelihood_is_a_clear_error():
  with pytest.raises(ValueError, match="likelihood"):
    losses.reconstruction_log_likelihood(jnp.zeros((1, 2)), jnp.zeros((1, 2)),
                                         None, "poisson")


# ---------------------------------------------- unlabeled entropy penalty


def _entropy(logits):
  p = np.exp(logits) / np.exp(logits).sum()
  return -np.sum(p * np.log(p))


def test_unlabeled_entropy_averages_over_unlabeled_points_only():
  logits = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 0.5], [3.0, -2.0, 1.0],
                     [jnp.nan, 0.0, 0.0]])
  mask = jnp.array([0.0, 0.0, 0.0, 1.0])  # the NaN row is labeled
  expected = np.mean([_entropy(l) for l in logits[:3]])
  np.testing.assert_allclose(
      losses.unlabeled_entropy(jnp.asarray(logits), mask), expected,
      rtol=1e-5)
  np.testing.assert_allclose(  # uniform q: log C
      losses.categorical_entropy(jnp.zeros((1, 3))), [np.log(3)], rtol=1e-6)
  assert losses.unlabeled_entropy(jnp.asarray(logits), jnp.ones(4)) == 0.0


def test_entropy_penalty_adds_its_weighted_term_and_nothing_else():
  batch = _batch(jax.random.PRNGKey(3))
  paper_total, paper_terms = losses.ssvae_loss(**batch, alpha=3.0)
  total, terms = losses.ssvae_loss(**batch, alpha=3.0,
                                   unlabeled_entropy_weight=20.0)
  entropy = losses.unlabeled_entropy(batch["class_logits"],
                                     batch["label_mask"])
  np.testing.assert_allclose(terms["unlabeled_entropy"], entropy)
  np.testing.assert_allclose(paper_terms["unlabeled_entropy"], entropy)
  np.testing.assert_allclose(total, paper_total + 20.0 * entropy, rtol=1e-6)
  for name in ("reconstruction", "kl", "classification", "elbo"):
    assert terms[name] == paper_terms[name], name
  # The penalty's gradient reaches the unlabeled logits only.
  grad = jax.grad(lambda l: losses.ssvae_loss(
      **dict(batch, class_logits=l, recon_loc=None, z_mean=None),
      alpha=0.0, unlabeled_entropy_weight=1.0)[0])(batch["class_logits"])
  assert np.all(grad[:2] == 0) and np.all(grad[2:] != 0)


# ------------------------------------------------------------------ M2


def _m2_example(rng, b=3, c=3, d=2, n=4):
  k = jax.random.split(rng, 6)
  return dict(
      x=jax.random.bernoulli(k[0], 0.5, (b, n)).astype(jnp.float32),
      labels=jnp.array([2, 0, 1]),
      label_mask=jnp.array([1.0, 0.0, 0.0]),
      class_logits=jax.random.normal(k[1], (b, c)),
      z_mean=jax.random.normal(k[2], (b, c, d)),
      z_logvar=0.1 * jax.random.normal(k[3], (b, c, d)),
      recon_loc=jax.random.normal(k[4], (b, c, n)))


def _hand_m2(ex, alpha, beta):
  """Kingma et al.'s L and U, written out per point and class with numpy."""
  x, labels, mask = (np.asarray(ex[k]) for k in ("x", "labels", "label_mask"))
  logits, mu, logvar, loc = (np.asarray(ex[k], np.float64) for k in (
      "class_logits", "z_mean", "z_logvar", "recon_loc"))
  num_points, num_classes = logits.shape
  def neg_elbo(i, c):  # -log p(x|z_c, c) + KL(q(z|x, c) || N(0, I)) - log p(c)
    p = 1 / (1 + np.exp(-loc[i, c]))
    recon = -np.sum(x[i] * np.log(p) + (1 - x[i]) * np.log(1 - p))
    kl = 0.5 * np.sum(np.exp(logvar[i, c]) + mu[i, c]**2 - 1 - logvar[i, c])
    return recon, kl, np.log(num_classes)
  per_point, ce = [], []
  for i in range(num_points):
    q = np.exp(logits[i]) / np.exp(logits[i]).sum()
    if mask[i]:
      recon, kl, prior = neg_elbo(i, labels[i])
      per_point.append(recon + beta * kl + prior)
      ce.append(-np.log(q[labels[i]]))
    else:
      u = sum(q[c] * (lambda r, k, p: r + beta * k + p)(*neg_elbo(i, c))
              for c in range(num_classes))
      per_point.append(u + np.sum(q * np.log(q)))  # minus the entropy
  return np.mean(per_point) + alpha * np.mean(ce)


@pytest.mark.parametrize("beta", [1.0, 0.5])
def test_m2_loss_matches_hand_enumeration(beta):
  ex = _m2_example(jax.random.PRNGKey(4))
  total, terms = losses.m2_loss(**ex, alpha=2.0, beta=beta)
  np.testing.assert_allclose(total, _hand_m2(ex, 2.0, beta), rtol=1e-5)
  np.testing.assert_allclose(
      terms["elbo"],
      -(terms["reconstruction"] + terms["kl"] + terms["kl_y"]), rtol=1e-6)
  # kl_y: log C for the labeled point, log C - H(q) for the unlabeled ones.
  entropies = losses.categorical_entropy(ex["class_logits"])
  np.testing.assert_allclose(
      terms["kl_y"], np.log(3) - (entropies[1] + entropies[2]) / 3,
      rtol=1e-5)
  assert terms["num_labeled"] == 1


def test_m2_unlabeled_points_train_the_classifier_labeled_ones_do_not():
  ex = _m2_example(jax.random.PRNGKey(5))
  grad = jax.grad(lambda l: losses.m2_loss(**dict(ex, class_logits=l),
                                           alpha=0.0)[0])(ex["class_logits"])
  assert np.all(grad[0] == 0) and np.all(grad[1:] != 0)


def test_m2_entropy_penalty_adds_its_weighted_term():
  ex = _m2_example(jax.random.PRNGKey(6))
  base, _ = losses.m2_loss(**ex)
  total, terms = losses.m2_loss(**ex, unlabeled_entropy_weight=3.0)
  np.testing.assert_allclose(
      total, base + 3.0 * losses.unlabeled_entropy(ex["class_logits"],
                                                   ex["label_mask"]),
      rtol=1e-6)
  assert "unlabeled_entropy" in terms


def _split_at_labels(ex, num_labeled):
  """The labeled-first outputs of an enumerated example: the first
  num_labeled points at their label only, the others at every class."""
  rows = jnp.arange(num_labeled)
  at_label = lambda a: a[rows, ex["labels"][:num_labeled]][:, None]
  labeled = model_spec.ModelOutput(
      class_logits=ex["class_logits"][:num_labeled],
      z_mean=at_label(ex["z_mean"]), z_logvar=at_label(ex["z_logvar"]),
      recon_loc=at_label(ex["recon_loc"])) if num_labeled else None
  unlabeled = model_spec.ModelOutput(
      class_logits=ex["class_logits"][num_labeled:],
      z_mean=ex["z_mean"][num_labeled:], z_logvar=ex["z_logvar"][num_labeled:],
      recon_loc=ex["recon_loc"][num_labeled:]) if num_labeled < 3 else None
  return labeled, unlabeled


@pytest.mark.parametrize("mask", [[1.0, 0.0, 0.0], [1.0, 1.0, 0.0],
                                  [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
def test_m2_loss_labeled_first_is_m2_loss_without_the_unused_classes(mask):
  ex = dict(_m2_example(jax.random.PRNGKey(7)), label_mask=jnp.array(mask))
  num_labeled = int(sum(mask))
  labeled, unlabeled = _split_at_labels(ex, num_labeled)

  def split_loss(logits):
    lab, unl = _split_at_labels(dict(ex, class_logits=logits), num_labeled)
    return losses.m2_loss_labeled_first(
        x=ex["x"], labels=ex["labels"], label_mask=ex["label_mask"],
        labeled=lab, unlabeled=unl, alpha=2.0, unlabeled_entropy_weight=0.5)

  full = lambda logits: losses.m2_loss(**dict(ex, class_logits=logits),
                                       alpha=2.0, unlabeled_entropy_weight=0.5)
  (total, terms), (want, want_terms) = split_loss(ex["class_logits"]), full(
      ex["class_logits"])
  np.testing.assert_allclose(total, want, rtol=1e-6)
  for name, value in want_terms.items():
    np.testing.assert_allclose(terms[name], value, rtol=1e-6, atol=1e-7)
  np.testing.assert_allclose(
      jax.grad(lambda l: split_loss(l)[0])(ex["class_logits"]),
      jax.grad(lambda l: full(l)[0])(ex["class_logits"]), rtol=1e-5,
      atol=1e-6)


def test_m2_loss_labeled_first_is_nan_when_the_mask_disagrees():
  ex = dict(_m2_example(jax.random.PRNGKey(8)),
            label_mask=jnp.array([0.0, 1.0, 0.0]))
  labeled, unlabeled = _split_at_labels(ex, 1)
  total, _ = losses.m2_loss_labeled_first(
      x=ex["x"], labels=ex["labels"], label_mask=ex["label_mask"],
      labeled=labeled, unlabeled=unlabeled)
  assert np.isnan(total)
