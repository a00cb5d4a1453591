"""The betaVAE disentanglement score (Higgins et al. 2017, ICLR).

A representation is disentangled in this sense when a linear classifier can
tell which generative factor was held fixed from how much each code dimension
changed. One training point: pick a factor k uniformly, draw two batches of
factor values that agree (pairwise) on factor k and are independent otherwise,
encode both batches and average |code1 - code2| over the batch. The dimension
that encodes factor k stays small, so the D-vector predicts k. The score is the
accuracy of a logistic regression on fresh points.

Follows disentanglement_lib's `beta_vae.py` (defaults batch 64, 10000 train,
5000 eval points; codes are not standardized), read not copied. The metric
needs observations for arbitrary factor combinations, hence `FactorSampler`
over a complete factor grid (dSprites is one).
"""

from typing import Callable, Sequence

import numpy as np
from sklearn import linear_model

RepresentationFn = Callable[[np.ndarray], np.ndarray]

# lbfgs is deterministic (no random_state needed). scikit-learn's default of
# 100 iterations often stops before convergence on unscaled codes; the score
# should measure the representation, not the optimizer budget.
LOGISTIC_REGRESSION_SOLVER = "lbfgs"
LOGISTIC_REGRESSION_MAX_ITER = 1000


class FactorSampler:
  """Samples factor values and looks up the observation for each.

  The observations must form a complete grid: every combination of factor
  classes appears exactly once. Lookup is by the mixed-radix index of the
  classes (factor 0 most significant), so observations may come in any order.
  """

  def __init__(self, factor_sizes: Sequence[int], observations: np.ndarray,
               factor_classes: np.ndarray):
    """Checks the grid and builds the index.

    Args:
      factor_sizes: number of classes of each factor, e.g. (3, 6, 10, 16, 16).
      observations: [N, ...] one observation per grid cell, N the product of
        factor_sizes.
      factor_classes: int [N, F], row i the classes (0..size-1) of
        observations[i].

    Raises:
      ValueError: when shapes disagree, a class is out of range, or the grid
        is incomplete or has duplicated cells.
    """
    self.factor_sizes = tuple(int(size) for size in factor_sizes)
    if not self.factor_sizes or min(self.factor_sizes) < 1:
      raise ValueError(
          f"factor_sizes must be a non-empty sequence of positive ints, got "
          f"{tuple(factor_sizes)}.")
    factor_classes = np.asarray(factor_classes)
    num_factors = len(self.factor_sizes)
    if factor_classes.ndim != 2 or factor_classes.shape[1] != num_factors:
      raise ValueError(
          f"factor_classes must have shape [N, {num_factors}] to match "
          f"factor_sizes {self.factor_sizes}, got {factor_classes.shape}.")
    if not np.issubdtype(factor_classes.dtype, np.integer):
      raise ValueError(
          f"factor_classes must be integers, got dtype {factor_classes.dtype}.")
    if len(observations) != len(factor_classes):
      raise ValueError(
          f"{len(observations)} observations but {len(factor_classes)} rows "
          f"of factor_classes.")
    _check_classes_in_range(factor_classes, self.factor_sizes)
    num_cells = int(np.prod(self.factor_sizes))
    flat = self._flat_index(factor_classes)
    counts = np.bincount(flat, minlength=num_cells)
    if counts.max(initial=0) > 1:
      cell = np.unravel_index(int(np.argmax(counts)), self.factor_sizes)
      raise ValueError(
          f"The factor grid has duplicated cells: classes "
          f"{tuple(int(c) for c in cell)} appear {counts.max()} times; each "
          f"combination must appear exactly once.")
    if len(flat) != num_cells:
      missing = np.unravel_index(int(np.argmin(counts)), self.factor_sizes)
      raise ValueError(
          f"The factor grid is incomplete: {len(flat)} observations for "
          f"{num_cells} combinations of factor_sizes {self.factor_sizes}; "
          f"e.g. classes {tuple(int(c) for c in missing)} are missing.")
    self.observations = observations
    self._row_of_cell = np.empty(num_cells, dtype=np.int64)
    self._row_of_cell[flat] = np.arange(num_cells)

  @property
  def num_factors(self) -> int:
    return len(self.factor_sizes)

  def _flat_index(self, factors: np.ndarray) -> np.ndarray:
    return np.ravel_multi_index(tuple(factors.T), self.factor_sizes)

  def sample_factors(self, num: int, rng: np.random.Generator) -> np.ndarray:
    """int64 [num, F], each factor independently uniform over its classes."""
    return rng.integers(0, self.factor_sizes, size=(num, self.num_factors))

  def observations_for(self, factors: np.ndarray) -> np.ndarray:
    """Observations [..., *obs_shape] for factor classes [..., F]."""
    factors = np.asarray(factors)
    if factors.shape[-1:] != (self.num_factors,):
      raise ValueError(
          f"factors must end in an axis of {self.num_factors} factors, got "
          f"shape {factors.shape}.")
    flat_factors = factors.reshape(-1, self.num_factors)
    _check_classes_in_range(flat_factors, self.factor_sizes)
    rows = self._row_of_cell[self._flat_index(flat_factors)]
    found = self.observations[rows]
    return found.reshape(factors.shape[:-1] + found.shape[1:])


def _check_classes_in_range(factors: np.ndarray,
                            factor_sizes: tuple) -> None:
  if not len(factors):
    return
  low, high = factors.min(axis=0), factors.max(axis=0)
  for k, size in enumerate(factor_sizes):
    if low[k] < 0 or high[k] >= size:
      raise ValueError(
          f"Factor {k} has classes in {low[k]}..{high[k]}, outside "
          f"0..{size - 1} (factor_sizes {factor_sizes}).")


def beta_vae_points(representation_fn: RepresentationFn,
                    factor_sampler: FactorSampler,
                    rng: np.random.Generator,
                    num_points: int,
                    *,
                    batch_size: int = 64,
                    points_per_call: int = 16) -> tuple:
  """Features [num_points, D] (mean |code difference|) and labels [num_points].

  Each call of representation_fn encodes both batches of `points_per_call`
  points at once, i.e. 2 * points_per_call * batch_size observations. Every
  call has that same size (the last chunk is drawn in full and trimmed), so a
  jitted encoder compiles once.
  """
  features, labels = [], []
  num_factors = factor_sampler.num_factors
  num_drawn = 0
  while num_drawn < num_points:
    fixed_factor = rng.integers(num_factors, size=points_per_call)
    shape = (points_per_call, batch_size, num_factors)
    factors1 = factor_sampler.sample_factors(
        points_per_call * batch_size, rng).reshape(shape)
    factors2 = factor_sampler.sample_factors(
        points_per_call * batch_size, rng).reshape(shape)
    point = np.arange(points_per_call)
    factors2[point, :, fixed_factor] = factors1[point, :, fixed_factor]
    observations = factor_sampler.observations_for(
        np.concatenate([factors1, factors2]).reshape(-1, num_factors))
    codes = _encode(representation_fn, observations)
    codes = codes.reshape(2, points_per_call, batch_size, codes.shape[-1])
    features.append(np.mean(np.abs(codes[0] - codes[1]), axis=1))
    labels.append(fixed_factor)
    num_drawn += points_per_call
  return (np.concatenate(features)[:num_points],
          np.concatenate(labels)[:num_points])


def _encode(representation_fn: RepresentationFn,
            observations: np.ndarray) -> np.ndarray:
  codes = np.asarray(representation_fn(observations))
  if codes.ndim != 2 or codes.shape[0] != len(observations):
    raise ValueError(
        f"representation_fn must map [B, ...] observations to [B, D] codes; "
        f"for B={len(observations)} it returned shape {codes.shape}.")
  if not np.all(np.isfinite(codes)):
    raise ValueError("representation_fn returned non-finite codes (NaN/inf).")
  return codes


def beta_vae_score(representation_fn: RepresentationFn,
                   factor_sampler: FactorSampler,
                   rng: np.random.Generator,
                   *,
                   batch_size: int = 64,
                   num_train: int = 10000,
                   num_eval: int = 5000,
                   points_per_call: int = 16) -> dict:
  """betaVAE score of `representation_fn` on the factors of `factor_sampler`.

  Args:
    representation_fn: numpy observations [B, ...] -> codes [B, D], e.g. a
      jitted encoder mean.
    factor_sampler: the complete factor grid to draw observations from.
    rng: the only randomness; equal seeds give equal scores.
    batch_size: observations averaged into one point.
    num_train: points to fit the logistic regression on.
    num_eval: fresh points to report accuracy on.
    points_per_call: points encoded per representation_fn call (memory knob).

  Returns:
    {"train_accuracy", "eval_accuracy"} as floats; chance is 1 / num_factors.
  """
  for name, value in (("batch_size", batch_size), ("num_train", num_train),
                      ("num_eval", num_eval),
                      ("points_per_call", points_per_call)):
    if int(value) != value or value < 1:
      raise ValueError(f"{name} must be a positive int, got {value!r}.")
  if not isinstance(factor_sampler, FactorSampler):
    raise ValueError(
        f"factor_sampler must be a FactorSampler, got "
        f"{type(factor_sampler).__name__}.")
  if factor_sampler.num_factors < 2 or min(factor_sampler.factor_sizes) < 2:
    raise ValueError(
        f"The betaVAE score needs at least two factors, each with at least "
        f"two classes (a constant factor cannot be told apart); got "
        f"factor_sizes {factor_sampler.factor_sizes}.")
  kwargs = dict(batch_size=batch_size, points_per_call=points_per_call)
  train_x, train_y = beta_vae_points(
      representation_fn, factor_sampler, rng, num_train, **kwargs)
  eval_x, eval_y = beta_vae_points(
      representation_fn, factor_sampler, rng, num_eval, **kwargs)
  if len(np.unique(train_y)) < 2:
    raise ValueError(
        f"num_train={num_train} points drew only one factor; use more.")
  classifier = linear_model.LogisticRegression(
      solver=LOGISTIC_REGRESSION_SOLVER,
      max_iter=LOGISTIC_REGRESSION_MAX_ITER)
  classifier.fit(train_x, train_y)
  return {
      "train_accuracy": float(classifier.score(train_x, train_y)),
      "eval_accuracy": float(classifier.score(eval_x, eval_y)),
  }
