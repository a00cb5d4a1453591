"""Runs stacked along the seed axis, to train as one program.

A run already trains its seeds side by side: every piece of its state has a
leading seed axis and the step is vmapped over it. Runs whose configs differ
only in which points they train on (the label count or fraction, the
held-out class) and in their seeds have the same model, optimizer and
shapes, so they can share that axis too: C runs of S seeds become one
program of C * S rows (ssvae.train.train_stacked), which fills an
accelerator that one small run leaves idle.

Each run keeps its own data. The distinct training splits are concatenated
once, and each run's label pools become indices into the concatenation,
padded to one length with their true sizes beside them (sampler.Pools). A
row draws exactly the batches it would draw alone, so a stacked run's
numbers are those of the run trained by itself, up to float32 rounding:
XLA may sum in another order at another vmap width (measured: relative
differences up to ~3e-7, tests/stacking_test.py).
"""

import dataclasses
import hashlib
import json

import jax
import numpy as np

from ssvae import data as data_lib
from ssvae import experiment as experiment_lib
from ssvae import sharding

# Config fields that only choose a run's points, and so may differ within
# a stack; "seed" shifts its seeds.
DATA_FIELDS = ("data.num_labels", "data.label_fraction",
               "data.held_out_class")
_FREE_FIELDS = DATA_FIELDS + ("seed",)


def stack_key(config) -> str:
  """Runs with equal keys can be stacked: the config as JSON with the
  fields a stack lets differ (DATA_FIELDS, seed) blanked out."""
  plain = json.loads(config.to_json_best_effort())
  for path in _FREE_FIELDS:
    *parents, leaf = path.split(".")
    node = plain
    for name in parents:
      node = node[name]
    node[leaf] = None
  return json.dumps(plain, sort_keys=True)


@dataclasses.dataclass(frozen=True)
class Stack:
  """Several runs as one experiment.

  exp: the first run's experiment with the seeds of all of them (run after
    run), their pools padded and offset into `x`, and a mesh over all rows.
  x, y: the runs' training splits concatenated, each distinct one once.
  rows: each run's rows of the seed axis.
  """
  exp: experiment_lib.Experiment
  x: np.ndarray
  y: np.ndarray
  rows: tuple[slice, ...]


def _fingerprint(split: data_lib.Split) -> str:
  digest = hashlib.sha1()
  for array in (split.x, split.y):
    digest.update(str((array.shape, array.dtype)).encode())
    digest.update(np.ascontiguousarray(array).tobytes())
  return digest.hexdigest()


def check_stackable(exps) -> None:
  """Refuses runs that cannot share one program, naming what differs."""
  first = exps[0]
  key = stack_key(first.config)
  for exp in exps[1:]:
    if stack_key(exp.config) != key:
      raise ValueError(
          "Only runs whose configs differ in nothing but "
          f"{', '.join(_FREE_FIELDS)} can be stacked.")
    if exp.sampling_mode != first.sampling_mode:
      raise ValueError(
          f"Runs that sample batches differently ({first.sampling_mode!r} "
          f"and {exp.sampling_mode!r}: e.g. all labels and some) cannot "
          "be stacked.")
    if exp.model != first.model:
      raise ValueError("Runs whose data give different models (input "
                       "shape, classes, likelihood) cannot be stacked.")


def _padded(pools: list[np.ndarray], offsets: list[int]) -> tuple:
  """[C*S, max length] indices (each run's offset added) and [C*S] sizes."""
  width = max(p.shape[1] for p in pools)
  rows, sizes = [], []
  for pool, offset in zip(pools, offsets):
    padded = np.zeros((pool.shape[0], width), np.int32)
    padded[:, :pool.shape[1]] = pool + offset
    rows.append(padded)
    sizes.append(np.full(pool.shape[0], pool.shape[1], np.int32))
  return np.concatenate(rows), np.concatenate(sizes)


def stack(exps) -> Stack:
  """The runs `exps` (Experiments, see check_stackable) as one Stack."""
  check_stackable(exps)
  splits, offsets, total = {}, [], 0
  for exp in exps:
    fingerprint = _fingerprint(exp.dataset.train)
    if fingerprint not in splits:
      splits[fingerprint] = (total, exp.dataset.train)
      total += len(exp.dataset.train)
    offsets.append(splits[fingerprint][0])
  parts = [split for _, split in splits.values()]
  x = parts[0].x if len(parts) == 1 else np.concatenate([p.x for p in parts])
  y = parts[0].y if len(parts) == 1 else np.concatenate([p.y for p in parts])
  labeled, labeled_size = _padded(
      [np.asarray(e.pools.labeled) for e in exps], offsets)
  unlabeled, unlabeled_size = _padded(
      [np.asarray(e.pools.unlabeled) for e in exps], offsets)
  pools = data_lib.Pools(labeled=labeled, unlabeled=unlabeled,
                         labeled_size=labeled_size,
                         unlabeled_size=unlabeled_size)
  seeds = tuple(s for exp in exps for s in exp.seeds)
  first = exps[0]
  mesh = sharding.make_mesh(len(seeds), first.mesh.devices.flatten())
  sharding.check_batch_divisible(mesh, first.config.train.batch_size)
  ends = np.cumsum([e.num_seeds for e in exps])
  rows = tuple(slice(int(end) - e.num_seeds, int(end))
               for end, e in zip(ends, exps))
  return Stack(exp=dataclasses.replace(first, seeds=seeds, pools=pools,
                                       mesh=mesh),
               x=x, y=y, rows=rows)


def concatenate_rows(trees, mesh):
  """Per-run seed-stacked pytrees (train states) as one, laid out over the
  stack's mesh."""
  host = [sharding.to_host(tree) for tree in trees]
  joined = jax.tree.map(lambda *leaves: np.concatenate(leaves), *host)
  return sharding.put(joined, sharding.per_seed(mesh))


def take_rows(tree, rows: slice, mesh):
  """One run's rows of a stacked pytree, laid out over that run's mesh."""
  return sharding.put(jax.tree.map(lambda leaf: leaf[rows], tree),
                      sharding.per_seed(mesh))
