"""Fine-tunes one seed of a trained run on a user's false-alarm feedback.

The trained class head has num_classes outputs; feedback adds the two classes
of ssvae.detect.feedback (false positive = num_classes, false negative =
num_classes + 1). `grow_state` widens the trained parameters to the bigger
head: every weight keeps its trained values, and the new entries (two class
logits, and the two decoder inputs that carry their probabilities) start at
zero, so the grown model starts out decoding as the trained one did. The
labeled feedback points join the labeled pool and training continues with the
run's own loss, sampler and optimizer (train.train), from that state.

A few feedback points would be a tiny share of a labeled pool of thousands,
so each feedback class is repeated up to the size of an average labeled class
(`repeats`): the new classes get as many labeled draws as the old ones.

Layout of a fine-tuning directory: an ordinary train.train workdir (config,
checkpoints, metrics.jsonl, tensorboard/) plus FEEDBACK_POINTS, the labeled
feedback points it trained on, so it can be rebuilt and resumed.
"""

import dataclasses
import hashlib
import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from ssvae import data as data_lib
from ssvae import errors
from ssvae import experiment as experiment_lib
from ssvae import model_spec
from ssvae import rng
from ssvae import run_dir
from ssvae import steps
from ssvae import train
from ssvae.detect import feedback

FEEDBACK_POINTS = "feedback_points.npz"


@dataclasses.dataclass(frozen=True)
class FeedbackPoints:
  """Inputs the user labeled, with their feedback class.

  x: float32 [M, *input_shape]. label: int32 [M], feedback.false_positive_class
  or feedback.false_negative_class of the task's num_classes.
  """
  x: np.ndarray
  label: np.ndarray

  def __len__(self) -> int:
    return len(self.label)

  def digest(self) -> str:
    """A short content hash: equal points give the same fine-tuning run."""
    sha = hashlib.sha256()
    for array in (self.x, self.label):
      sha.update(np.ascontiguousarray(array).tobytes())
    return sha.hexdigest()[:12]


def points_from_labels(x: np.ndarray, labels: feedback.FeedbackLabels,
                       num_classes: int) -> FeedbackPoints:
  """The labeled rows of x, with feedback classes num_classes / + 1."""
  rows = np.concatenate([labels.false_positive_idx,
                         labels.false_negative_idx])
  label = np.concatenate([
      np.full(len(labels.false_positive_idx),
              feedback.false_positive_class(num_classes)),
      np.full(len(labels.false_negative_idx),
              feedback.false_negative_class(num_classes))]).astype(np.int32)
  return FeedbackPoints(x=np.asarray(x[rows], np.float32), label=label)


def concat_points(first: FeedbackPoints,
                  second: FeedbackPoints) -> FeedbackPoints:
  return FeedbackPoints(x=np.concatenate([first.x, second.x]),
                        label=np.concatenate([first.label, second.label]))


def save_points(directory: str, points: FeedbackPoints) -> None:
  os.makedirs(directory, exist_ok=True)
  path = os.path.join(directory, FEEDBACK_POINTS)
  tmp = path + ".tmp.npz"
  np.savez(tmp, x=points.x, label=points.label)
  os.replace(tmp, path)


def load_points(directory: str) -> FeedbackPoints:
  with np.load(os.path.join(directory, FEEDBACK_POINTS),
               allow_pickle=False) as npz:
    return FeedbackPoints(x=npz["x"], label=npz["label"])


def repeats(num_points: int, labeled_per_class: float) -> int:
  """Copies of each of num_points points so their class has about
  labeled_per_class entries (at least one copy)."""
  if num_points == 0:
    return 0
  return max(1, round(labeled_per_class / num_points))


def _labeled_per_class(y: np.ndarray, labeled: np.ndarray) -> float:
  if len(labeled) == 0:
    return 1.0
  return len(labeled) / len(np.unique(y[labeled]))


def finetune_config(base_config: ml_collections.ConfigDict, seed: int,
                    num_steps: int) -> ml_collections.ConfigDict:
  """The base run's config for one seed, num_steps more steps, no selection.

  The last state is kept: validation here holds no feedback classes, so it
  cannot tell whether they were learned. held_out_class is -1 because the
  data set handed over is the base run's, already without that class.
  """
  if not isinstance(num_steps, int) or num_steps < 1:
    raise errors.UserInputError(
        f"Fine-tuning needs a positive number of steps, got {num_steps!r}.")
  config = ml_collections.ConfigDict(base_config.to_dict())
  config.seed = seed
  config.data.held_out_class = -1
  config.train.num_seeds = 1
  config.train.num_steps = num_steps
  config.train.steps_per_call = min(config.train.steps_per_call, num_steps)
  config.train.eval_every = num_steps
  config.train.checkpoint_every = num_steps
  config.train.patience = 0
  config.train.select_metric = "last"
  return config


def check_can_take_feedback(variant: str) -> None:
  if variant != model_spec.SEMI_SUPERVISED:
    raise errors.UserInputError(
        f"Feedback needs a class head and a decoder; this run's model is "
        f"{variant!r}. Train a 'semi_supervised' model to use feedback.")


def extended_experiment(base: experiment_lib.Experiment, seed_index: int,
                        points: FeedbackPoints,
                        config: ml_collections.ConfigDict,
                        devices=None) -> experiment_lib.Experiment:
  """The base run's data for one seed plus the (repeated) feedback points.

  The train split becomes [base training points..., FP copies, FN copies]
  with num_classes + 2 classes; the labeled pool is the seed's own plus
  the copies, the unlabeled pool stays the seed's own.
  """
  check_can_take_feedback(base.config.model.variant)
  dataset = base.dataset
  num_classes = dataset.num_classes
  labeled = np.asarray(base.pools.labeled[seed_index])
  per_class = _labeled_per_class(dataset.train.y, labeled)
  blocks_x, blocks_y = [dataset.train.x], [dataset.train.y]
  for cls in (feedback.false_positive_class(num_classes),
              feedback.false_negative_class(num_classes)):
    rows = np.flatnonzero(points.label == cls)
    copies = repeats(len(rows), per_class)
    blocks_x.append(np.tile(points.x[rows], (copies,) + (1,) * (
        points.x.ndim - 1)))
    blocks_y.append(np.tile(points.label[rows], copies).astype(
        dataset.train.y.dtype))
  num_base = len(dataset.train)
  num_new = sum(len(b) for b in blocks_y[1:])
  extended = dataclasses.replace(
      dataset, num_classes=num_classes + 2,
      train=data_lib.Split(x=np.concatenate(blocks_x),
                           y=np.concatenate(blocks_y)))
  new_labeled = np.concatenate([labeled, num_base + np.arange(num_new)])
  return experiment_lib.experiment_from_dataset(
      config, extended, devices=devices, labeled_indices=[new_labeled])


def _pad_to(trained: jax.Array, target: jax.ShapeDtypeStruct) -> jax.Array:
  """trained in the leading corner of a zero array of target's shape."""
  if trained.shape == target.shape:
    return trained
  if trained.ndim != len(target.shape) or any(
      t < s for s, t in zip(trained.shape, target.shape)):
    raise ValueError(f"Cannot grow a parameter of shape {trained.shape} to "
                     f"{target.shape}.")
  return jnp.pad(trained, [(0, t - s) for s, t in zip(trained.shape,
                                                      target.shape)])


def grow_state(trained: steps.TrainState, exp: experiment_lib.Experiment,
               seed: int) -> steps.TrainState:
  """One seed's trained state widened to exp's model, fresh optimizer, step 0.

  The class head's outputs and the decoder's y inputs both end in the class
  axis, so the trained values fill each grown parameter's leading corner.
  """
  example = jnp.asarray(exp.dataset.train.x[:2])
  target = jax.eval_shape(
      lambda key: steps.init_state(exp.model, exp.tx, key, example),
      rng.seed_key(seed, "params"))
  params = jax.tree.map(_pad_to, trained.params, target.params)
  model_state = jax.tree.map(_pad_to, trained.model_state,
                             target.model_state)
  return steps.TrainState(step=jnp.zeros((), jnp.int32), params=params,
                          model_state=model_state,
                          opt_state=exp.tx.init(params))


def _stack(state: steps.TrainState) -> steps.TrainState:
  return jax.tree.map(lambda leaf: jnp.asarray(leaf)[None], state)


def finetune(base: experiment_lib.Experiment, base_state: steps.TrainState,
             seed_index: int, points: FeedbackPoints, workdir: str,
             num_steps: int, devices=None):
  """Fine-tunes seed `seed_index` of a run on the feedback points.

  base_state: the run's seed-stacked state. Writes a train.train workdir
  (resumed if it exists) plus FEEDBACK_POINTS. Returns (experiment, state of
  the one seed).
  """
  seed = base.seeds[seed_index]
  config = finetune_config(base.config, seed, num_steps)
  exp = extended_experiment(base, seed_index, points, config, devices)
  save_points(workdir, points)
  grown = grow_state(steps.seed_slice(base_state, seed_index), exp, seed)
  run = train.train(config, workdir, experiment=exp, init_state=_stack(grown))
  return exp, steps.seed_slice(run.last, 0)


def load_finetuned(base: experiment_lib.Experiment, seed_index: int,
                   workdir: str, devices=None):
  """(experiment, state of the one seed) of a finished fine-tuning run."""
  exp = extended_experiment(base, seed_index, load_points(workdir),
                            run_dir.load_config(workdir), devices)
  return exp, steps.seed_slice(run_dir.restore_state(exp, workdir, "last"),
                                    0)
