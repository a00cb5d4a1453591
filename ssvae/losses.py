"""Loss terms of the semi-supervised VAE, as pure functions of arrays.

Nothing here knows about models: every function takes arrays and returns
arrays, so the terms can be reused from any JAX code.
"""

import math
from typing import Optional

import jax
import jax.numpy as jnp

from ssvae import model_spec

Array = jax.Array

_LOG_2PI = math.log(2.0 * math.pi)  # a Python float: no jax computation at import


def _sum_per_example(values: Array) -> Array:
  """Sums every axis but the first: [B, ...] -> [B]."""
  return jnp.sum(values.reshape(values.shape[0], -1), axis=-1)


def bernoulli_log_likelihood(x: Array, logits: Array) -> Array:
  """log p(x | logits) summed over all non-batch axes; x in [0, 1]. -> [B].

  Uses the numerically stable form x*l - softplus(l), exact for x in {0, 1}
  and the usual continuous relaxation for grey values.
  """
  return _sum_per_example(x * logits - jax.nn.softplus(logits))


def gaussian_log_likelihood(x: Array, mean: Array, var: Array) -> Array:
  """log N(x; mean, diag(var)) summed over all non-batch axes. -> [B]."""
  return _sum_per_example(
      -0.5 * (_LOG_2PI + jnp.log(var) + jnp.square(x - mean) / var))


def kl_to_standard_normal(mean: Array, logvar: Array) -> Array:
  """KL(N(mean, exp(logvar)) || N(0, I)) summed over non-batch axes. -> [B]."""
  return _sum_per_example(
      0.5 * (jnp.exp(logvar) + jnp.square(mean) - 1.0 - logvar))


def masked_cross_entropy(logits: Array, labels: Array,
                         label_mask: Array) -> tuple[Array, Array]:
  """Mean cross-entropy over the labeled points of a batch.

  Returns (loss, num_labeled). The sum over labeled points is divided by
  max(num_labeled, 1), so a batch without labels gives 0, not NaN, and its
  gradient is exactly zero.
  """
  per_example = -jnp.take_along_axis(
      jax.nn.log_softmax(logits), labels[:, None].astype(jnp.int32),
      axis=-1)[:, 0]
  num_labeled = jnp.sum(label_mask)
  # `where` rather than multiplying, so that a non-finite value on an
  # unlabeled point cannot leak into the loss as 0 * inf = NaN.
  masked = jnp.where(label_mask > 0, per_example, 0.0)
  return jnp.sum(masked) / jnp.maximum(num_labeled, 1.0), num_labeled


def categorical_entropy(logits: Array) -> Array:
  """H(softmax(logits)) in nats, over the last axis. [..., C] -> [...]."""
  log_probs = jax.nn.log_softmax(logits, axis=-1)
  return -jnp.sum(jnp.exp(log_probs) * log_probs, axis=-1)


def unlabeled_mean(values: Array, label_mask: Array) -> Array:
  """Mean of per-example `values` [B] over the unlabeled points of a batch.

  The sum over points with label_mask == 0 is divided by
  max(num_unlabeled, 1): a batch without unlabeled points gives 0, not NaN,
  and a non-finite value on a labeled point cannot leak in.
  """
  unlabeled = label_mask <= 0
  total = jnp.sum(jnp.where(unlabeled, values, 0.0))
  return total / jnp.maximum(jnp.sum(unlabeled), 1.0)


def unlabeled_entropy(class_logits: Array, label_mask: Array) -> Array:
  """Mean entropy of q(y|x) = softmax(class_logits) over unlabeled points.

    unlabeled_entropy = (1/max(n_unl, 1)) sum_{i unlabeled} H(q(y | x_i)),
    H(q) = -sum_c q_c log q_c   (nats; log C for a uniform q, 0 for one-hot)

  Weighted by loss.unlabeled_entropy_weight it is the entropy penalty of
  ssvae_loss and m2_loss: it pushes q(y|x) on unlabeled points towards
  confident (low-entropy) predictions (entropy minimisation, Grandvalet &
  Bengio 2005).
  """
  return unlabeled_mean(categorical_entropy(class_logits), label_mask)


def reconstruction_log_likelihood(x: Array, recon_loc: Array,
                                  recon_var: Optional[Array],
                                  likelihood: str) -> Array:
  """Per-example log p(x | z) under the named likelihood. -> [B]."""
  if likelihood == model_spec.BERNOULLI:
    return bernoulli_log_likelihood(x, recon_loc)
  if likelihood == model_spec.GAUSSIAN:
    return gaussian_log_likelihood(x, recon_loc, recon_var)
  # The one check of a likelihood name (anomaly scores and models read it
  # through here).
  raise ValueError(f"Unknown likelihood {likelihood!r}; expected one of "
                   f"{model_spec.LIKELIHOODS}.")


def _classification(labels: Array, label_mask: Array,
                    class_logits: Optional[Array],
                    factor_logits: tuple) -> Array:
  """Masked cross-entropy of the class head, or summed over factor heads."""
  classification = jnp.zeros((), jnp.float32)
  if factor_logits:
    for k, logits in enumerate(factor_logits):
      factor_labels = labels[:, k] if labels.ndim == 2 else labels
      classification += masked_cross_entropy(logits, factor_labels,
                                             label_mask)[0]
  elif class_logits is not None:
    classification = masked_cross_entropy(class_logits, labels, label_mask)[0]
  return classification


def _entropy_penalty(total: Array, entropy: Array, weight: float) -> Array:
  """total + weight * entropy; total untouched (bit for bit) at weight 0."""
  return total + weight * entropy if weight else total


def _loss_terms(reconstruction, kl, classification, unlabeled_entropy,
                label_mask, kl_y=None) -> dict:
  """The terms dict both losses return; elbo = -(reconstruction + kl
  [+ kl_y])."""
  terms = {"reconstruction": reconstruction, "kl": kl}
  negative_elbo = reconstruction + kl
  if kl_y is not None:
    terms["kl_y"] = kl_y
    negative_elbo = negative_elbo + kl_y
  terms.update(classification=classification,
               unlabeled_entropy=unlabeled_entropy, elbo=-negative_elbo,
               num_labeled=jnp.sum(label_mask))
  return terms


def ssvae_loss(*, x: Array, labels: Array, label_mask: Array,
               class_logits: Optional[Array] = None,
               z_mean: Optional[Array] = None,
               z_logvar: Optional[Array] = None,
               recon_loc: Optional[Array] = None,
               recon_var: Optional[Array] = None,
               factor_logits: tuple = (), likelihood: str = model_spec.BERNOULLI,
               alpha: float = 1.0, beta: float = 1.0,
               unlabeled_entropy_weight: float = 0.0) -> tuple[Array, dict]:
  """Total loss and its named terms for one batch.

    total = reconstruction + beta * kl + alpha * classification
            + unlabeled_entropy_weight * unlabeled_entropy

  with (B = batch size, n_lab = sum(label_mask), n_unl = B - n_lab):
    reconstruction = -(1/B) sum_i log p(x_i | z_i, y_i)
    kl             =  (1/B) sum_i KL(q(z | x_i) || N(0, I))
    classification =  (1/max(n_lab, 1)) sum_{i labeled} -log softmax(logits_i)[label_i]
    unlabeled_entropy = (1/max(n_unl, 1)) sum_{i unlabeled} H(softmax(logits_i))

  y_i is what the decoder saw of the class head (model.decoder_y; the
  paper's softmax by default), for labeled points too. The entropy penalty is
  opt-in (weight 0, the paper's loss, leaves the total bit-identical); the
  term is returned either way, as a diagnostic. `unlabeled_entropy_weight`
  must be a Python number.

  Terms whose inputs are None (the default) are 0, which gives the siblings: the supervised
  model passes no decoder outputs (pure cross-entropy), the unsupervised one no
  class logits (the negative ELBO). `factor_logits` (multi-head models, labels
  [B, F]) adds one cross-entropy per factor to `classification`, summed.

  Returns (total, terms): scalars 'reconstruction', 'kl', 'classification',
  'unlabeled_entropy', 'elbo' (= -(reconstruction + kl), the batch's mean
  ELBO per example) and 'num_labeled'.
  """
  zero = jnp.zeros((), jnp.float32)
  reconstruction = kl = entropy = zero
  if recon_loc is not None:
    reconstruction = -jnp.mean(
        reconstruction_log_likelihood(x, recon_loc, recon_var, likelihood))
  if z_mean is not None and recon_loc is not None:
    kl = jnp.mean(kl_to_standard_normal(z_mean, z_logvar))
  classification = _classification(labels, label_mask, class_logits,
                                   factor_logits)
  if class_logits is not None:
    entropy = unlabeled_entropy(class_logits, label_mask)
  total = reconstruction + beta * kl + alpha * classification
  total = _entropy_penalty(total, entropy, unlabeled_entropy_weight)
  return total, _loss_terms(reconstruction, kl, classification, entropy,
                            label_mask)


# ------------------------------------------------------------------- M2


def _merge_class_axis(a: Array) -> Array:
  """[B, C, ...] -> [B * C, ...]."""
  return a.reshape((a.shape[0] * a.shape[1],) + a.shape[2:])


def per_class_reconstruction(x: Array, recon_loc: Array,
                             recon_var: Optional[Array],
                             likelihood: str) -> Array:
  """-log p(x_i | z_ic, y=c) for every point and class. -> [B, C].

  x: [B, ...]; recon_loc, recon_var: [B, C, ...], decoded at each class c.
  """
  batch, classes = recon_loc.shape[:2]
  x = jnp.broadcast_to(x[:, None], recon_loc.shape)
  log_lik = reconstruction_log_likelihood(
      _merge_class_axis(x), _merge_class_axis(recon_loc),
      None if recon_var is None else _merge_class_axis(recon_var), likelihood)
  return -log_lik.reshape(batch, classes)


def per_class_kl(z_mean: Array, z_logvar: Array) -> Array:
  """KL(q(z | x_i, y=c) || N(0, I)) for every point and class: [B, C, D] ->
  [B, C]."""
  batch, classes = z_mean.shape[:2]
  return kl_to_standard_normal(_merge_class_axis(z_mean),
                               _merge_class_axis(z_logvar)).reshape(
                                   batch, classes)


def kl_to_uniform(class_logits: Array) -> Array:
  """KL(softmax(logits) || Uniform(C)) = log C - H: [B, C] -> [B]."""
  return jnp.log(class_logits.shape[-1]) - categorical_entropy(class_logits)


def m2_class_weights(class_logits: Array, labels: Array,
                     label_mask: Array) -> Array:
  """Weights of the enumerated classes: one-hot label if labeled, else q(y|x).

  -> [B, C]. Labeled points put all weight on their label (no gradient);
  unlabeled points weight each class by q(y=c | x), the path through which
  M2 trains its classifier on unlabeled data.
  """
  one_hot = jax.nn.one_hot(labels, class_logits.shape[-1],
                           dtype=class_logits.dtype)
  return jnp.where(label_mask[:, None] > 0, one_hot,
                   jax.nn.softmax(class_logits, axis=-1))


def m2_expected_terms(x: Array, class_weights: Array, z_mean: Array,
                      z_logvar: Array, recon_loc: Array,
                      recon_var: Optional[Array],
                      likelihood: str) -> tuple[Array, Array]:
  """sum_c w_ic R_ic and sum_c w_ic K_ic per point: ([B], [B]).

  class_weights w: [B, C]; the other arrays as m2_loss takes them.
  """
  reconstruction = jnp.sum(class_weights * per_class_reconstruction(
      x, recon_loc, recon_var, likelihood), axis=-1)
  kl = jnp.sum(class_weights * per_class_kl(z_mean, z_logvar), axis=-1)
  return reconstruction, kl


def m2_loss(*, x: Array, labels: Array, label_mask: Array,
            class_logits: Array, z_mean: Array, z_logvar: Array,
            recon_loc: Array, recon_var: Optional[Array] = None,
            likelihood: str = model_spec.BERNOULLI, alpha: float = 1.0,
            beta: float = 1.0,
            unlabeled_entropy_weight: float = 0.0) -> tuple[Array, dict]:
  """Loss of Kingma et al. (2014)'s M2 (with its alpha-weighted classifier).

  Inputs come from the m2 variant (model_spec.ModelOutput): class_logits [B, C]
  of q(y|x); z_mean, z_logvar [B, C, D] of q(z | x, y=c); recon_loc (and
  recon_var) [B, C, ...] of p(x | z_c, y=c), z_c ~ q(z | x, y=c), for every
  class c. With R_ic = -log p(x_i | z_ic, c), K_ic = KL(q(z | x_i, c) ||
  N(0, I)), the uniform prior p(y) = 1/C and

    -ELBO(x, y) = R_y + K_y - log p(y) = R_y + K_y + log C

  a labeled point (x, y) costs L(x, y) = -ELBO(x, y) and an unlabeled one

    U(x) = sum_c q(c|x) (-ELBO(x, c)) - H(q(y|x))
         = sum_c q(c|x) (R_c + K_c) + KL(q(y|x) || Uniform(C)).

  Writing w_i = one_hot(y_i) for labeled points and q(y | x_i) for unlabeled
  ones (KL(one_hot || Uniform) = log C, so both cases read the same):

    total = reconstruction + beta * kl + kl_y + alpha * classification
            + unlabeled_entropy_weight * unlabeled_entropy
    reconstruction = (1/B) sum_i sum_c w_ic R_ic
    kl             = (1/B) sum_i sum_c w_ic K_ic
    kl_y           = (1/B) sum_i KL(w_i || Uniform(C))
    classification = (1/max(n_lab, 1)) sum_{i labeled} -log q(y_i | x_i)
    unlabeled_entropy = (1/max(n_unl, 1)) sum_{i unlabeled} H(q(y | x_i))

  i.e. (1/B) [sum_{labeled} L + sum_{unlabeled} U] + alpha * mean CE, the
  same normalisation as ssvae_loss (every ELBO term a mean over all B
  points, the cross-entropy a mean over the labeled ones; with the sampler's
  1:1 batches, (mean L + mean U) / 2). beta weights the z-KL only. Kingma et
  al. sum instead of averaging and weight the classifier by 0.1 N.

  Differences with the paper's one-model SSVAE (ssvae_loss; its Table 1):
    networks   M2: q(y|x) and q(z|x, y) are separate networks, z depends on
               y; SSVAE: one encoder whose top layer forks into mu, logvar
               and the softmax y, z independent of y given x.
    decoder y  M2: one-hot y, every class enumerated, p(x | z_c, c);
               SSVAE: the continuous softmax(logits), one pass,
               p(x | z, softmax(logits)).
    unlabeled  M2: sum_c q(c|x) [R_c + K_c + log C] - H(q(y|x));
               SSVAE: R(x | z, softmax) + K, no prior on y, no entropy.
    labeled    M2: -ELBO at the true one-hot y + alpha CE;
               SSVAE: the same -ELBO as unlabeled points (decoder sees
               softmax(logits), not the label) + alpha CE.
  Enumeration costs C decoder (and z-encoder) passes per point.

  Returns (total, terms) with 'reconstruction', 'kl', 'kl_y',
  'classification', 'unlabeled_entropy', 'elbo' (= -(reconstruction + kl +
  kl_y)) and 'num_labeled'.
  """
  reconstruction, kl = m2_expected_terms(
      x, m2_class_weights(class_logits, labels, label_mask), z_mean,
      z_logvar, recon_loc, recon_var, likelihood)
  return _m2_total(reconstruction, kl, class_logits=class_logits,
                   labels=labels, label_mask=label_mask, alpha=alpha,
                   beta=beta,
                   unlabeled_entropy_weight=unlabeled_entropy_weight)


def m2_loss_labeled_first(*, x: Array, labels: Array, label_mask: Array,
                          labeled: model_spec.ModelOutput,
                          unlabeled: model_spec.ModelOutput,
                          likelihood: str = model_spec.BERNOULLI,
                          alpha: float = 1.0, beta: float = 1.0,
                          unlabeled_entropy_weight: float = 0.0
                          ) -> tuple[Array, dict]:
  """m2_loss for a batch whose first L points are labeled and the rest not
  (the sampler's layout, data.labeled_first), from the m2 variant's
  `m2_labeled_first` outputs: the L labeled points evaluated at their label
  only (z_mean etc. [L, 1, ...]), the others at every class ([B-L, C, ...]);
  an empty part is None.

  The same loss as m2_loss, whose labeled terms weight every enumerated
  class but the label by 0, without the C-1 wasted z-encoder and decoder
  passes per labeled point. label_mask must read 1 on the first L points and
  0 after; otherwise the total is NaN (the trainer stops on a non-finite
  loss) rather than silently wrong.
  """
  num_labeled = 0 if labeled is None else labeled.class_logits.shape[0]
  parts = []
  if num_labeled:
    parts.append(m2_expected_terms(
        x[:num_labeled], jnp.ones((num_labeled, 1), x.dtype), labeled.z_mean,
        labeled.z_logvar, labeled.recon_loc, labeled.recon_var, likelihood))
  if num_labeled < x.shape[0]:
    parts.append(m2_expected_terms(
        x[num_labeled:], jax.nn.softmax(unlabeled.class_logits, axis=-1),
        unlabeled.z_mean, unlabeled.z_logvar, unlabeled.recon_loc,
        unlabeled.recon_var, likelihood))
  reconstruction, kl = (jnp.concatenate(t) for t in zip(*parts))
  class_logits = jnp.concatenate(
      [o.class_logits for o in (labeled, unlabeled) if o is not None])
  total, terms = _m2_total(
      reconstruction, kl, class_logits=class_logits, labels=labels,
      label_mask=label_mask, alpha=alpha, beta=beta,
      unlabeled_entropy_weight=unlabeled_entropy_weight)
  layout = jnp.arange(label_mask.shape[0]) < num_labeled
  total = jnp.where(jnp.all((label_mask > 0) == layout), total, jnp.nan)
  return total, terms


def _m2_total(reconstruction: Array, kl: Array, *, class_logits: Array,
              labels: Array, label_mask: Array, alpha: float, beta: float,
              unlabeled_entropy_weight: float) -> tuple[Array, dict]:
  """m2_loss's total and terms from the per-point expected terms [B]."""
  reconstruction, kl = jnp.mean(reconstruction), jnp.mean(kl)
  entropy = categorical_entropy(class_logits)
  kl_y = jnp.mean(jnp.log(class_logits.shape[-1])
                  - jnp.where(label_mask > 0, 0.0, entropy))
  classification = masked_cross_entropy(class_logits, labels, label_mask)[0]
  unlabeled = unlabeled_mean(entropy, label_mask)
  total = reconstruction + beta * kl + kl_y + alpha * classification
  total = _entropy_penalty(total, unlabeled, unlabeled_entropy_weight)
  return total, _loss_terms(reconstruction, kl, classification, unlabeled,
                            label_mask, kl_y=kl_y)
