"""dSprites (Matthey et al. 2017): 2D shapes from five independent factors.

Reads DeepMind's official `dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`
(737,280 images) or any `.npz` with the same `imgs` [N, H, W] uint8 in {0, 1}
and `latents_classes` [N, F] arrays, e.g. the downsampled copy in
../shared/data/dsprites (46,080 images: 3 shapes x 6 scales x 10 orientations
x 16 x 16 positions). The `metadata` entry is a pickled object: files are
opened with allow_pickle=False and that key is never read.

Splits: dSprites has no official test split and is usually used whole (the
betaVAE score needs the complete factor grid). So train = every image, and
test = a fixed subset of TEST_FRACTION of the images drawn with TEST_SEED;
test overlaps train and is only for monitoring reconstructions.

Memory: x is float32, 16 KiB per 64x64 image: ~830 MB for the downsampled file
(train + test), ~13.5 GB for the official file.
"""

import os
import pathlib
import zipfile
from typing import Optional

import numpy as np

from ssvae import errors
from ssvae import model_spec
from ssvae.data import dataset as dataset_lib

NAME = "dsprites"
OFFICIAL_FILE = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
FACTOR_NAMES = ("shape", "scale", "orientation", "pos_x", "pos_y")
SHAPE_NAMES = ("square", "ellipse", "heart")  # dSprites shape values 1, 2, 3.
# TFDS label features in FACTOR_NAMES order.
TFDS_LABELS = ("label_shape", "label_scale", "label_orientation",
               "label_x_position", "label_y_position")

TEST_FRACTION = 0.1
TEST_SEED = 0

_REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]

# Searched in order when data_dir is "". Strings so that "~" is expanded at
# call time (tests patch this tuple).
KNOWN_LOCATIONS = (
    os.path.join(_REPO_ROOT, "..", "shared", "data", "dsprites"),
    "~/.cache/ssvae/dsprites",
)

_HOW_TO_GET = (
    f"Download {OFFICIAL_FILE} from https://github.com/deepmind/"
    f"dsprites-dataset into ~/.cache/ssvae/dsprites (or "
    f"$SSVAE_DATA_DIR/dsprites), or set data.data_dir to a directory holding "
    f"it (or any .npz with keys imgs and "
    f"latents_classes), or to the .npz file itself.")

_REQUIRED_KEYS = ("imgs", "latents_classes")


def load(source: str = "auto", data_dir: str = "") -> dataset_lib.Dataset:
  """Loads dSprites as x float32 [N, H, W, 1] in {0, 1}, y int32 [N, 5].

  Args:
    source: "files" (an .npz), "tfds" (`tfds.data_source("dsprites")`), or
      "auto": files when found, otherwise an already prepared TFDS copy.
    data_dir: for files, a directory or an .npz path ("" searches
      KNOWN_LOCATIONS); for tfds, the TFDS data_dir ("" = TFDS default).

  Returns:
    Dataset with y columns FACTOR_NAMES, each re-indexed to 0..size-1.
  """
  if source not in ("auto", "files", "tfds"):
    raise errors.ConfigError(
        f"dSprites source must be 'auto', 'files' or 'tfds', got {source!r}.")
  if source == "tfds":
    return _dataset_from_tfds(data_dir, download=True)
  path = find_file(data_dir)
  if path is not None:
    return dataset_from_arrays(*read_npz(path))
  if source == "auto":
    try:
      return _dataset_from_tfds(data_dir, download=False)
    except ValueError as err:
      tfds_problem = f" TFDS fallback failed too: {err}"
  else:
    tfds_problem = ""
  searched = ", ".join(
      str(d) for d in dataset_lib.known_locations("dsprites", KNOWN_LOCATIONS))
  raise errors.DataNotFoundError(
      f"No dSprites .npz found in {searched}.{tfds_problem} {_HOW_TO_GET}")


def _expand(directory: str) -> pathlib.Path:
  return pathlib.Path(os.path.expanduser(directory))


def find_file(data_dir: str = "") -> Optional[pathlib.Path]:
  """The dSprites .npz under data_dir, or in KNOWN_LOCATIONS when "".

  In a directory the official file name wins; otherwise the directory must
  hold exactly one .npz. Returns None when nothing is found in the known
  locations; raises FileNotFoundError when an explicit data_dir has none.
  """
  if data_dir:
    path = _expand(data_dir)
    if path.is_file():
      return path
    if not path.is_dir():
      raise errors.DataNotFoundError(
          f"dSprites data_dir {path} does not exist. {_HOW_TO_GET}")
    found = _npz_in(path)
    if found is None:
      raise errors.DataNotFoundError(
          f"No dSprites .npz in data_dir {path}. {_HOW_TO_GET}")
    return found
  for path in dataset_lib.known_locations("dsprites", KNOWN_LOCATIONS):
    if path.is_dir():
      found = _npz_in(path)
      if found is not None:
        return found
  return None


def _npz_in(directory: pathlib.Path) -> Optional[pathlib.Path]:
  if (directory / OFFICIAL_FILE).is_file():
    return directory / OFFICIAL_FILE
  candidates = sorted(directory.glob("*.npz"))
  if len(candidates) > 1:
    raise errors.DataError(
        f"Several .npz files in {directory} "
        f"({', '.join(p.name for p in candidates)}) and none is named "
        f"{OFFICIAL_FILE}; set data_dir to the file to use.")
  return candidates[0] if candidates else None


def read_npz(path: os.PathLike | str) -> tuple:
  """(imgs [N, H, W] uint8, latents_classes [N, F]) from a dSprites .npz.

  Only the two needed keys are read, without unpickling anything.
  """
  path = pathlib.Path(path)
  if not path.is_file():
    raise errors.DataNotFoundError(f"dSprites file {path} does not exist.")
  if not zipfile.is_zipfile(path):
    raise errors.DataError(
        f"Cannot read dSprites file {path}: it is not an .npz (zip) archive.")
  try:
    with np.load(path, allow_pickle=False) as npz:
      missing = [key for key in _REQUIRED_KEYS if key not in npz.files]
      if missing:
        raise ValueError(
            f"keys {missing} are missing (it has {sorted(npz.files)})")
      images, classes = npz["imgs"], npz["latents_classes"]
  except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
    raise errors.DataError(f"Cannot read dSprites file {path}: {err}") from err
  _check_arrays(images, classes, str(path))
  return images, classes


def _check_arrays(images: np.ndarray, classes: np.ndarray,
                  origin: str) -> None:
  if images.ndim != 3 or images.dtype != np.uint8:
    raise errors.DataError(
        f"dSprites imgs in {origin} must be uint8 [N, H, W], got "
        f"{images.dtype} {images.shape}.")
  if images.size and images.max() > 1:
    raise errors.DataError(
        f"dSprites imgs in {origin} must be binary (0/1), found value "
        f"{images.max()}.")
  if (classes.ndim != 2 or len(classes) != len(images)
      or not np.issubdtype(classes.dtype, np.integer)):
    raise errors.DataError(
        f"dSprites latents_classes in {origin} must be integers [N, F] with "
        f"N={len(images)} like imgs, got {classes.dtype} {classes.shape}.")
  if classes.shape[1] not in (5, 6):
    raise errors.DataError(
        f"dSprites latents_classes in {origin} has {classes.shape[1]} "
        f"columns; expected 6 (color + {FACTOR_NAMES}) or 5 (without color).")


def reindex_classes(classes: np.ndarray) -> tuple:
  """Maps each column's distinct values to 0..n-1 (order kept).

  Returns (int32 [N, F], factor_sizes). Needed because subsets of dSprites
  keep the original class numbers (e.g. every 4th orientation).
  """
  columns, sizes = [], []
  for column in classes.T:
    values, inverse = np.unique(column, return_inverse=True)
    columns.append(inverse.reshape(-1))
    sizes.append(len(values))
  return np.stack(columns, axis=-1).astype(np.int32), tuple(sizes)


def dataset_from_arrays(images: np.ndarray,
                        classes: np.ndarray) -> dataset_lib.Dataset:
  """Dataset from imgs [N, H, W] uint8 {0, 1} and latents_classes [N, 5|6]."""
  if classes.shape[1] == 6:
    # The official file's column 0 is color, which is always white.
    if len(np.unique(classes[:, 0])) > 1:
      raise errors.DataError(
          "dSprites latents_classes has 6 columns but column 0 (color) is "
          "not constant; expected (color, shape, scale, orientation, x, y).")
    classes = classes[:, 1:]
  y, factor_sizes = reindex_classes(classes)
  x = images.astype(np.float32)[..., np.newaxis]
  test_rows = _test_rows(len(x))
  return dataset_lib.Dataset(
      name=NAME,
      train=dataset_lib.Split(x=x, y=y),
      test=dataset_lib.Split(x=x[test_rows], y=y[test_rows]),
      num_classes=factor_sizes[0],
      likelihood=model_spec.BERNOULLI,
      class_names=SHAPE_NAMES if factor_sizes[0] == len(SHAPE_NAMES) else (),
      factor_names=FACTOR_NAMES,
      factor_sizes=factor_sizes)


def _test_rows(num_examples: int) -> np.ndarray:
  """Sorted rows of the fixed test subset: TEST_FRACTION, seed TEST_SEED."""
  num_test = min(num_examples, max(1, round(TEST_FRACTION * num_examples)))
  rng = np.random.default_rng(TEST_SEED)
  return np.sort(rng.choice(num_examples, size=num_test, replace=False))


def _dataset_from_tfds(data_dir: str, download: bool) -> dataset_lib.Dataset:
  """Reads TFDS's "dsprites" train split (its only one) via data_source."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  try:
    source = tfds.data_source(
        NAME, split="train", data_dir=data_dir or None, download=download)
    num_examples = len(source)
    if not num_examples:
      raise ValueError("the train split is empty")
    images, classes = None, np.empty((num_examples, len(TFDS_LABELS)),
                                     np.int64)
    for i in range(num_examples):
      example = source[i]
      image = np.asarray(example["image"])
      if images is None:
        images = np.empty((num_examples,) + image.shape[:2], np.uint8)
      images[i] = image.reshape(images.shape[1:])
      classes[i] = [int(example[label]) for label in TFDS_LABELS]
  except Exception as err:  # pylint: disable=broad-except
    # TFDS raises many types (not prepared, no network, bad files).
    raise errors.DataError(
        f"TFDS could not provide {NAME!r} (data_dir={data_dir or 'default'}, "
        f"download={download}): {type(err).__name__}: {err}") from err
  _check_arrays(images, classes, f"TFDS {NAME!r}")
  return dataset_from_arrays(images, classes)
