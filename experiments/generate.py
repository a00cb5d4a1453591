r"""Class-conditional samples and latent traversals of a trained run.

  python -m experiments.generate --workdir=workdirs/mnist_dense \
      [--out=DIR] [--seed_index=0] [--num_per_class=10]

Rebuilds the run from --workdir (its config.json and last checkpoint) and
writes, for one of its seeds, the paper's figures into --out (default
WORKDIR/figures):
  * class_conditional_seed{S}.png (Figure 2): one row per class, columns
    decoded from shared prior samples z ~ N(0, I) with y = one_hot(class);
  * latent_traversal_class{C}_seed{S}.png (Figure 3), only when the latent
    space is 2-d: a grid over z in [-span, span]^2 decoded with class C.
Only semi_supervised models qualify: the unsupervised VAE has no class input
and the supervised sibling no decoder.
"""

import os
import pathlib
from typing import Optional, Sequence

from absl import flags
import jax
import numpy as np

from ssvae import cli
from ssvae import errors
from ssvae import generation
from ssvae import io_utils
from ssvae import rng
from ssvae import steps
from ssvae import train
from ssvae import types

_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (config.json "
                               "and checkpoints/).")
_OUT = flags.DEFINE_string("out", None, "Output directory for the PNGs "
                           "(default: WORKDIR/figures).")
_SEED_INDEX = flags.DEFINE_integer("seed_index", 0, "Which of the run's "
                                   "seeds (0..num_seeds-1) to draw from.")
_NUM_PER_CLASS = flags.DEFINE_integer("num_per_class", 10,
                                      "Samples (columns) per class.")
_TRAVERSAL_CLASSES = flags.DEFINE_list(
    "traversal_classes", None, "Classes to draw latent traversals for "
    "(default: all); ignored unless the latent space is 2-d.")
_GRID_SIZE = flags.DEFINE_integer("grid_size", 15, "Traversal grid side.")
_SPAN = flags.DEFINE_float("span", 2.0, "Traversal covers [-span, span]^2.")
_SAMPLE_SEED = flags.DEFINE_integer("sample_seed", 0,
                                    "PRNG seed of the prior samples.")
flags.mark_flags_as_required(["workdir"])


def check_variant(variant: str, source: str) -> None:
  """Generation needs a decoder with a class input: semi_supervised or m2."""
  if types.decoder_sees_y(variant):
    return
  why = {types.UNSUPERVISED: "it has no class input to condition on",
         types.SUPERVISED: "it has no decoder"}.get(variant, "unknown variant")
  raise errors.UserInputError(
      f"{source}: model.variant={variant!r} cannot generate class-conditional "
      f"samples ({why}); only {types.SEMI_SUPERVISED!r} and {types.M2!r} "
      "runs can.")


def _image_samples(images: np.ndarray) -> np.ndarray:
  """[..., H, W, C] -> [..., H, W, 1 or 3]; other channel counts keep
  channel 0 (e.g. the left camera of Small-NORB's stereo pairs)."""
  if images.shape[-1] in (1, 3):
    return images
  return images[..., :1]


def _latent_shape(exp, encode_fn) -> tuple:
  """Per-example shape of z, read off the encoder (rnn latents are [T, D])."""
  z_mean, _, _ = encode_fn(np.asarray(exp.dataset.train.x[:1]))
  return tuple(z_mean.shape[1:])


def _class_names(dataset) -> list[str]:
  names = list(dataset.class_names)
  if len(names) != dataset.num_classes:
    names = [str(c) for c in range(dataset.num_classes)]
  return names


def figures_from_state(exp: train.Experiment, state, out_dir: str, *,
                       seed_index: int = 0, num_per_class: int = 10,
                       traversal_classes: Optional[Sequence[int]] = None,
                       grid_size: int = 15, span: float = 2.0,
                       sample_seed: int = 0) -> list[pathlib.Path]:
  """Writes the generation PNGs of one seed of a seed-stacked state.

  Returns the written paths: the class-conditional grid first, then one
  traversal per class in traversal_classes (default: all classes) when the
  latent space is 2-d.
  """
  check_variant(exp.config.model.variant, "config")
  if not 0 <= seed_index < exp.num_seeds:
    raise errors.UserInputError(
        f"seed_index={seed_index} is outside 0..{exp.num_seeds - 1}"
        f" (the run trained seeds {list(exp.seeds)}).")
  dataset = exp.dataset
  if len(dataset.input_shape) != 3:
    raise errors.UserInputError(
        f"Generation figures need image data [H, W, C]; data set "
        f"{dataset.name!r} has inputs of shape {dataset.input_shape}.")
  names = _class_names(dataset)
  classes = (range(dataset.num_classes) if traversal_classes is None
             else [int(c) for c in traversal_classes])
  for c in classes:
    if not 0 <= c < dataset.num_classes:
      raise errors.UserInputError(
          f"traversal class {c} is outside "
          f"0..{dataset.num_classes - 1} of {dataset.name!r}.")

  encode_fn, decode_fn = steps.model_fns(
      exp.model, steps.seed_slice(state, seed_index))
  decode_fn = jax.jit(decode_fn)
  latent_shape = _latent_shape(exp, encode_fn)
  seed = exp.seeds[seed_index]
  step = int(np.asarray(state.step)[seed_index])
  out = pathlib.Path(out_dir)

  samples = generation.class_conditional_samples(
      decode_fn, rng.seed_key(sample_seed, "generate"), dataset.num_classes,
      num_per_class, latent_shape)
  paths = [generation.save_image_grid(
      _image_samples(samples),
      out / f"class_conditional_seed{seed}.png", row_labels=names,
      title=f"{dataset.name}: p(x | z, y=class), seed {seed}, step {step}")]
  if latent_shape == (2,):
    for c in classes:
      grid = generation.latent_traversal(decode_fn, c, dataset.num_classes,
                                         grid_size, span)
      paths.append(generation.save_image_grid(
          _image_samples(grid),
          out / f"latent_traversal_class{c}_seed{seed}.png",
          title=f"{dataset.name}: class {names[c]}, z in [-{span:g}, "
                f"{span:g}]^2, seed {seed}"))
  return paths


def write_generation_figures(workdir: str, out_dir: Optional[str] = None,
                             **kwargs) -> list[pathlib.Path]:
  """Rebuilds the run in `workdir` and writes its generation figures.

  out_dir defaults to WORKDIR/figures; kwargs are those of
  figures_from_state. Returns the written paths.
  """
  config_path = os.path.join(workdir, "config.json")
  if not os.path.exists(config_path):
    raise errors.RunNotFoundError(
        f"{config_path} not found: is {workdir} a run directory?")
  # Checked before load_run so a wrong run fails before its data is loaded.
  variant = io_utils.read_json(config_path).get("model", {}).get("variant")
  check_variant(variant, config_path)
  exp, state = train.load_run(workdir, devices=jax.devices()[:1])
  return figures_from_state(
      exp, state, out_dir or os.path.join(workdir, "figures"), **kwargs)


def _traversal_classes() -> Optional[list[int]]:
  if _TRAVERSAL_CLASSES.value is None:
    return None
  try:
    return [int(c) for c in _TRAVERSAL_CLASSES.value]
  except ValueError:
    raise errors.UserInputError(
        f"--traversal_classes must be integers, got "
        f"{_TRAVERSAL_CLASSES.value}.") from None


def main(argv):
  if len(argv) > 1:
    raise errors.UserInputError(f"Unexpected arguments: {argv[1:]}")
  paths = write_generation_figures(
      _WORKDIR.value, _OUT.value, seed_index=_SEED_INDEX.value,
      num_per_class=_NUM_PER_CLASS.value,
      traversal_classes=_traversal_classes(), grid_size=_GRID_SIZE.value,
      span=_SPAN.value, sample_seed=_SAMPLE_SEED.value)
  for path in paths:
    print(path)


if __name__ == "__main__":
  cli.run(main)
