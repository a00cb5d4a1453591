"""Anomaly detection by reconstruction probability (An & Cho 2015).

The score of x is the negative log of the Monte-Carlo reconstruction
probability

  p_rec(x) = (1/L) sum_l p(x | z_l, y),
  z_l = mu(x) + exp(logvar(x)/2) * eps_l,

with eps_l ~ N(0, I) and y the decoder's view of the class head, exactly as
the model decodes in evaluation (softmax(class_logits(x)) for the paper's
semi-supervised VAE, per time step for the recurrent family, None for
decoders without y). The mean over samples is taken in log space (logsumexp
- log L) so that likelihoods far below float32's range do not underflow to
log(0).

Nothing here knows about model classes: callers pass closures

  encode_fn(x) -> (z_mean, z_logvar, y or None)
  decode_fn(z, y) -> (recon_loc, recon_var or None)

as ssvae.steps.scoring_fns builds them (model.decoder_inputs, model.decode).
"""

import math
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np
from sklearn import metrics

from ssvae.metrics import batching
from ssvae import losses
from ssvae import model_spec

Array = jax.Array
EncodeFn = Callable[[Array], tuple[Array, Array, Optional[Array]]]
DecodeFn = Callable[[Array, Optional[Array]], tuple[Array, Optional[Array]]]


def _check_num_samples(num_samples: int) -> None:
  if not isinstance(num_samples, (int, np.integer)) or num_samples < 1:
    raise ValueError(
        f"num_samples must be a positive integer, got {num_samples!r}.")


def reconstruction_log_prob(encode_fn: EncodeFn, decode_fn: DecodeFn,
                            x: Array, rng: Array, num_samples: int,
                            likelihood: str) -> Array:
  """log (1/L) sum_l p(x | z_l, y) per example; x [N, ...] -> [N].

  Pure JAX and jit-friendly (num_samples and likelihood must be static).
  The L decoder passes are vmapped, so memory grows as L * N * |x|.
  """
  _check_num_samples(num_samples)
  z_mean, z_logvar, y = encode_fn(x)
  eps = jax.random.normal(rng, (num_samples,) + z_mean.shape, z_mean.dtype)
  z_samples = z_mean + jnp.exp(0.5 * z_logvar) * eps

  def log_likelihood(z: Array) -> Array:
    recon_loc, recon_var = decode_fn(z, y)
    if likelihood == model_spec.GAUSSIAN and recon_var is None:
      raise ValueError("likelihood 'gaussian' needs decode_fn to return a "
                       "variance, but it returned recon_var=None.")
    return losses.reconstruction_log_likelihood(x, recon_loc, recon_var,
                                                likelihood)

  per_sample = jax.vmap(log_likelihood)(z_samples)  # [L, N]
  return jax.nn.logsumexp(per_sample, axis=0) - math.log(num_samples)


def anomaly_scores(encode_fn: EncodeFn, decode_fn: DecodeFn, x: np.ndarray,
                   rng: Array, num_samples: int, likelihood: str,
                   batch_size: int = 1000,
                   progress: bool = False) -> np.ndarray:
  """Negative log reconstruction probability of every x; higher = more
  anomalous.

  Returns float numpy [N]. Each batch draws its own noise from
  fold_in(rng, batch_index). progress: show a progress bar.
  """
  _check_num_samples(num_samples)

  @jax.jit
  def score_fn(batch, key):
    return -reconstruction_log_prob(encode_fn, decode_fn, batch, key,
                                    num_samples, likelihood)

  return batching.map_in_batches(score_fn, x, batch_size, rng=rng,
                                 progress=progress, output_ndim=1)


def scores_and_truth(scores, is_anomaly) -> tuple[np.ndarray, np.ndarray]:
  """(float64 scores, is_anomaly) as arrays, checked to be 1-d of one length."""
  scores = np.asarray(scores, dtype=np.float64)
  is_anomaly = np.asarray(is_anomaly)
  if scores.ndim != 1 or is_anomaly.shape != scores.shape:
    raise ValueError(f"scores and is_anomaly must be 1-d of equal length, got "
                     f"shapes {scores.shape} and {is_anomaly.shape}.")
  return scores, is_anomaly


def roc_auc(scores: np.ndarray, is_anomaly: np.ndarray) -> float:
  """Area under the ROC curve of scores (higher = anomaly) vs boolean truth."""
  scores, is_anomaly = scores_and_truth(scores, is_anomaly)
  if is_anomaly.dtype != np.bool_:
    if not np.all(np.isin(is_anomaly, (0, 1))):
      raise ValueError("is_anomaly must be boolean (or 0/1).")
    is_anomaly = is_anomaly.astype(bool)
  if not np.all(np.isfinite(scores)):
    raise ValueError(f"scores contain {np.sum(~np.isfinite(scores))} "
                     "non-finite value(s); the AUC would be meaningless.")
  num_anomalies = int(is_anomaly.sum())
  if num_anomalies == 0 or num_anomalies == len(is_anomaly):
    missing = "anomalies" if num_anomalies == 0 else "normal points"
    raise ValueError(f"ROC AUC needs both classes, but there are no {missing} "
                     f"among the {len(is_anomaly)} points.")
  return float(metrics.roc_auc_score(is_anomaly, scores))


def held_out_class_mask(y: np.ndarray, anomaly_class: int) -> np.ndarray:
  """is_anomaly for the held-out-class protocol: points of anomaly_class."""
  y = np.asarray(y)
  if y.ndim != 1:
    raise ValueError(f"y must be 1-d class labels, got shape {y.shape}.")
  if anomaly_class not in set(np.unique(y).tolist()):
    raise ValueError(f"anomaly_class {anomaly_class} does not occur in y.")
  return y == anomaly_class
