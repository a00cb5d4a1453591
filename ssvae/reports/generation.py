"""Class-conditional generation and latent traversals (paper Figures 2 and 3).

`write_generation_figures(workdir)` (and `figures_from_state`) draw both for
one seed of a trained run (experiments/generate.py is its command line).

The decoder is a plain callable `decode_fn(z, y) -> (recon_loc, recon_var)`,
e.g. `lambda z, y: model.apply(variables, z, y, method='decode', train=False)`.
Its outputs become images as the mean of p(x | z, y): sigmoid(logits) when
recon_var is None (Bernoulli), recon_loc itself otherwise (Gaussian).
"""

import math
import os
import pathlib
from typing import Callable, Optional, Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.backends import backend_agg
from matplotlib import figure

from ssvae import errors
from ssvae import experiment as experiment_lib
from ssvae import io_utils
from ssvae import model_spec
from ssvae import rng as rng_lib
from ssvae import run_dir
from ssvae import steps

Array = jax.Array
DecodeFn = Callable[[Array, Optional[Array]], tuple[Array, Optional[Array]]]

_DPI = 100
_MIN_IMAGE_PIXELS = 64  # small images are upscaled to about this size
_LABEL_PADDING_PIXELS = 12
_TITLE_PIXELS = 30


def _decode_mean(decode_fn: DecodeFn, z: Array, y: Optional[Array],
                 context: str) -> np.ndarray:
  """Mean of p(x | z, y), with decoder failures reported in our terms."""
  y_shape = None if y is None else tuple(y.shape)
  try:
    recon_loc, recon_var = decode_fn(z, y)
  except Exception as e:  # pylint: disable=broad-except
    raise ValueError(
        f"{context}: decode_fn failed on z of shape {tuple(z.shape)} and y of "
        f"shape {y_shape}; check latent_dim / num_classes against the model "
        f"({type(e).__name__}: {e})") from e
  if recon_var is None:
    return np.asarray(jax.nn.sigmoid(recon_loc))
  return np.asarray(recon_loc)


def _check_positive(value: int, name: str) -> None:
  if not isinstance(value, (int, np.integer)) or value < 1:
    raise ValueError(f"{name} must be a positive integer, got {value!r}.")


def class_conditional_samples(decode_fn: DecodeFn, rng: Array,
                              num_classes: int, num_per_class: int,
                              latent_dim: Union[int, Sequence[int]],
                              share_latents: bool = True) -> np.ndarray:
  """Decodes prior samples z ~ N(0, I) with y = one_hot(class) for each class.

  Returns [num_classes, num_per_class, *x_shape]; row r was decoded with
  one_hot(r). With share_latents, column j uses the same z in every row, so
  columns show the style the latent code carries and rows the class.
  latent_dim may be a shape (e.g. (T, D) for the rnn family).
  """
  _check_positive(num_classes, "num_classes")
  _check_positive(num_per_class, "num_per_class")
  latent_shape = ((latent_dim,) if isinstance(latent_dim, (int, np.integer))
                  else tuple(latent_dim))
  for size in latent_shape:
    _check_positive(size, "latent_dim")
  if share_latents:
    z = jax.random.normal(rng, (num_per_class,) + latent_shape)
    z = jnp.tile(z, (num_classes,) + (1,) * len(latent_shape))
  else:
    z = jax.random.normal(rng, (num_classes * num_per_class,) + latent_shape)
  classes = jnp.repeat(jnp.arange(num_classes), num_per_class)
  y = jax.nn.one_hot(classes, num_classes)
  images = _decode_mean(decode_fn, z, y, "class_conditional_samples")
  return images.reshape((num_classes, num_per_class) + images.shape[1:])


def traversal_row_labels(grid_size: int, span: float) -> list[str]:
  """The z_1 value of each row of latent_traversal's grid, top to bottom."""
  return [f"z1 = {v:+.2f}" for v in np.linspace(span, -span, grid_size)]


def latent_traversal(decode_fn: DecodeFn, class_index: Optional[int],
                     num_classes: int, grid_size: int,
                     span: float = 2.0) -> np.ndarray:
  """Decodes a grid over a 2-d latent space for one class.

  Returns [grid_size, grid_size, *x_shape]. Column j has z_0 =
  linspace(-span, span)[j]; row i has z_1 = linspace(span, -span)[i] (up is
  positive, as in a plot). y = one_hot(class_index), or None when class_index
  is None (for decoders without a class input, the unsupervised model).
  """
  _check_positive(grid_size, "grid_size")
  if not span > 0:
    raise ValueError(f"span must be positive, got {span}.")
  if class_index is None:
    y = None
  else:
    _check_positive(num_classes, "num_classes")
    if not 0 <= class_index < num_classes:
      raise ValueError(f"class_index {class_index} is outside "
                       f"0..{num_classes - 1}.")
    y = jax.nn.one_hot(jnp.full((grid_size * grid_size,), class_index),
                       num_classes)
  z0, z1 = jnp.meshgrid(jnp.linspace(-span, span, grid_size),
                        jnp.linspace(span, -span, grid_size))
  z = jnp.stack([z0.ravel(), z1.ravel()], axis=-1)
  images = _decode_mean(decode_fn, z, y,
                        "latent_traversal (needs a model with latent_dim 2)")
  return images.reshape((grid_size, grid_size) + images.shape[1:])


def _text_widths_pixels(texts: Sequence[str]) -> list[float]:
  """Rendered widths of texts at the default font, so labels are never cut."""
  fig = figure.Figure(dpi=_DPI)
  renderer = backend_agg.FigureCanvasAgg(fig).get_renderer()
  return [fig.text(0, 0, text).get_window_extent(renderer).width
          for text in texts]


def _mosaic(images: np.ndarray, gap: int, fill: float) -> np.ndarray:
  """[R, C, H, W, ch] -> [R*H + (R-1)*gap, C*W + (C-1)*gap, ch]."""
  rows, cols, height, width, channels = images.shape
  mosaic = np.full((rows * height + (rows - 1) * gap,
                    cols * width + (cols - 1) * gap, channels), fill,
                   np.float32)
  for r in range(rows):
    for c in range(cols):
      top, left = r * (height + gap), c * (width + gap)
      mosaic[top:top + height, left:left + width] = images[r, c]
  return mosaic


def _to_unit_range(images: np.ndarray,
                   value_range: Optional[tuple[float, float]]) -> np.ndarray:
  if value_range is None:
    low, high = float(images.min()), float(images.max())
  else:
    low, high = value_range
  if not high > low:
    return np.zeros_like(images, np.float32)
  return np.clip((images - low) / (high - low), 0.0, 1.0).astype(np.float32)


def save_image_grid(images: np.ndarray, path: Union[str, pathlib.Path],
                    row_labels: Optional[Sequence[str]] = None,
                    title: Optional[str] = None,
                    value_range: Optional[tuple[float, float]] = (0.0, 1.0),
                    gap: int = 1) -> pathlib.Path:
  """Writes images [R, C, H, W, ch] (ch 1 or 3) as one PNG, row r labeled.

  Values are clipped to value_range (None: the grid's own min..max) and shown
  in grey or RGB, separated by `gap` white pixels. Images smaller than 64
  pixels are upscaled by an integer factor with nearest-neighbour sampling.
  The PNG size is deterministic: the mosaic (times that factor) plus a left
  margin as wide as the longest label and a top margin for the title.
  """
  images = np.asarray(images)
  if images.ndim != 5 or images.shape[-1] not in (1, 3):
    raise ValueError("images must be [rows, cols, height, width, channels] "
                     f"with 1 or 3 channels, got shape {images.shape}.")
  if 0 in images.shape:
    raise ValueError(f"images is empty: shape {images.shape}.")
  rows, _, height, width, channels = images.shape
  if row_labels is not None:
    row_labels = [str(label) for label in row_labels]
    if len(row_labels) != rows:
      raise ValueError(f"Got {len(row_labels)} row_labels for {rows} rows.")
  if not np.all(np.isfinite(images)):
    raise ValueError("images contain non-finite values.")
  if gap < 0:
    raise ValueError(f"gap must be >= 0, got {gap}.")

  mosaic = _mosaic(_to_unit_range(images, value_range), gap, fill=1.0)
  scale = max(1, math.ceil(_MIN_IMAGE_PIXELS / max(height, width)))
  mosaic_height, mosaic_width = mosaic.shape[0] * scale, mosaic.shape[1] * scale
  left = (math.ceil(max(_text_widths_pixels(row_labels)))
          + _LABEL_PADDING_PIXELS if row_labels else 0)
  top = _TITLE_PIXELS if title else 0
  total_width, total_height = left + mosaic_width, top + mosaic_height
  if title:  # widen (to the right) so a long title is not cut
    total_width = max(total_width, math.ceil(
        _text_widths_pixels([title])[0]) + 2 * _LABEL_PADDING_PIXELS)

  fig = figure.Figure(figsize=(total_width / _DPI, total_height / _DPI),
                      dpi=_DPI)
  backend_agg.FigureCanvasAgg(fig)
  ax = fig.add_axes((left / total_width, 0.0, mosaic_width / total_width,
                     mosaic_height / total_height))
  shown = mosaic[..., 0] if channels == 1 else mosaic
  ax.imshow(shown, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest",
            aspect="auto")
  ax.set_xticks([])
  if row_labels:
    ax.set_yticks([r * (height + gap) + (height - 1) / 2 for r in range(rows)])
    ax.set_yticklabels(row_labels)
    ax.tick_params(axis="y", length=0)
  else:
    ax.set_yticks([])
  for spine in ax.spines.values():
    spine.set_visible(False)
  if title:
    fig.text(0.5, 1.0 - (top / 2) / total_height, title, ha="center",
             va="center")
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  fig.savefig(path, dpi=_DPI, format="png")
  return path


# ---------------------------------------------- figures of a trained run


def check_variant(variant: str, source: str) -> None:
  """Generation needs a decoder with a class input: semi_supervised or m2."""
  if model_spec.decoder_sees_y(variant):
    return
  why = {model_spec.UNSUPERVISED: "it has no class input to condition on",
         model_spec.SUPERVISED: "it has no decoder"}.get(variant, "unknown variant")
  raise errors.UserInputError(
      f"{source}: model.variant={variant!r} cannot generate class-conditional "
      f"samples ({why}); only {model_spec.SEMI_SUPERVISED!r} and {model_spec.M2!r} "
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


def figures_from_state(exp: experiment_lib.Experiment, state, out_dir: str, *,
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

  samples = class_conditional_samples(
      decode_fn, rng_lib.seed_key(sample_seed, "generate"), dataset.num_classes,
      num_per_class, latent_shape)
  paths = [save_image_grid(
      _image_samples(samples),
      out / f"class_conditional_seed{seed}.png", row_labels=names,
      title=f"{dataset.name}: p(x | z, y=class), seed {seed}, step {step}")]
  if latent_shape == (2,):
    for c in classes:
      grid = latent_traversal(decode_fn, c, dataset.num_classes,
                                         grid_size, span)
      paths.append(save_image_grid(
          _image_samples(grid),
          out / f"latent_traversal_class{c}_seed{seed}.png",
          row_labels=traversal_row_labels(grid_size, span),
          title=f"{dataset.name}: class {names[c]}, seed {seed}; columns: "
                f"z0 = -{span:g} .. +{span:g}, left to right"))
  return paths


# Which state draws: each seed's validation-selected state, or the last
# (run_dir.load's `which`).
STATES = ("selected", "last")


def write_generation_figures(workdir: str, out_dir: Optional[str] = None,
                             state: str = "selected",
                             **kwargs) -> list[pathlib.Path]:
  """Rebuilds the run in `workdir` and writes its generation figures.

  out_dir defaults to WORKDIR/figures; state: one of STATES; kwargs are
  those of figures_from_state. Returns the written paths.
  """
  config_path = os.path.join(workdir, "config.json")
  if not os.path.exists(config_path):
    raise errors.RunNotFoundError(
        f"{config_path} not found: is {workdir} a run directory?")
  # Checked before load_run so a wrong run fails before its data is loaded.
  variant = io_utils.read_json(config_path).get("model", {}).get("variant")
  check_variant(variant, config_path)
  exp, trained = run_dir.load(workdir, devices=jax.devices()[:1],
                                which=state)
  return figures_from_state(
      exp, trained, out_dir or os.path.join(workdir, "figures"), **kwargs)
