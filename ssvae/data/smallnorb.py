"""Small NORB (LeCun et al. 2004): stereo photos of 50 toys under 4 factors.

Reads the six official files (`.mat` by name, but NORB binary matrices, not
MATLAB), optionally gzip-compressed:
  smallnorb-5x46789x9x18x6x2x96x96-training-{dat,cat,info}.mat[.gz]
  smallnorb-5x01235x9x18x6x2x96x96-testing-{dat,cat,info}.mat[.gz]
Each split holds 24,300 stereo pairs; train and test use disjoint toy
instances (4, 6, 7, 8, 9 vs 0, 1, 2, 3, 5), so the official split is kept.

NORB binary matrix (https://cs.nyu.edu/~ylclab/data/norb-v1.0-small/): all
little-endian; int32 magic (0x1E3D4C55 = uint8, 0x1E3D4C54 = int32), int32
ndim, then max(3, ndim) int32 dims (unused ones are 1), then the values in
row-major order.

Memory: x is float32, 72 KiB per 96x96 stereo pair: ~3.6 GB for both splits.
"""

import gzip
import os
import pathlib
from typing import Optional

import numpy as np

from ssvae import errors
from ssvae import model_spec
from ssvae.data import dataset as dataset_lib
from ssvae.data import idx

NAME = "smallnorb"
UINT8_MAGIC = 0x1E3D4C55
INT32_MAGIC = 0x1E3D4C54
_DTYPES = {UINT8_MAGIC: np.dtype(np.uint8), INT32_MAGIC: np.dtype("<i4")}
_MAGICS = {dtype: magic for magic, dtype in _DTYPES.items()}

SPLIT_PREFIXES = {
    "train": "smallnorb-5x46789x9x18x6x2x96x96-training",
    "test": "smallnorb-5x01235x9x18x6x2x96x96-testing",
}
FACTOR_NAMES = ("category", "elevation", "azimuth", "lighting")
FACTOR_SIZES = (5, 9, 18, 6)
CLASS_NAMES = ("animal", "human", "airplane", "truck", "car")
NUM_INSTANCES = 10  # Toy instances per category (info column 0).
# TFDS features in FACTOR_NAMES order; TFDS azimuth is already 0..17.
TFDS_LABELS = ("label_category", "label_elevation", "label_azimuth",
               "label_lighting")

_REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]

# Searched in order when data_dir is "". Strings so that "~" is expanded at
# call time (tests patch this tuple).
KNOWN_LOCATIONS = (
    os.path.join(_REPO_ROOT, "..", "shared", "data", "smallnorb"),
    "~/.cache/ssvae/smallnorb",
)

_HOW_TO_GET = (
    "Download the six smallnorb-*-{training,testing}-{dat,cat,info}.mat.gz "
    "files from https://cs.nyu.edu/~ylclab/data/norb-v1.0-small/ into "
    "~/.cache/ssvae/smallnorb, or set data.data_dir to their directory.")


def read_norb_matrix(path: os.PathLike | str) -> np.ndarray:
  """The array in one NORB binary matrix file (gunzipped if named .gz)."""
  path = pathlib.Path(path)
  try:
    if path.suffix == ".gz":
      with gzip.open(path, "rb") as f:
        raw = f.read()
    else:
      raw = path.read_bytes()
  except (EOFError, gzip.BadGzipFile, OSError) as err:
    raise errors.DataError(f"Cannot read NORB file {path}: {err}") from err
  if len(raw) < 8:
    raise errors.DataError(
        f"NORB file {path} is truncated: {len(raw)} bytes, no header.")
  magic, ndim = (int(v) for v in np.frombuffer(raw, "<i4", count=2))
  if magic not in _DTYPES:
    raise errors.DataError(
        f"NORB file {path} has magic {magic:#x}; expected {UINT8_MAGIC:#x} "
        f"(uint8) or {INT32_MAGIC:#x} (int32). Not a Small NORB file?")
  if not 1 <= ndim <= 8:
    raise errors.DataError(f"NORB file {path} claims {ndim} dimensions.")
  header_size = 8 + 4 * max(3, ndim)
  if len(raw) < header_size:
    raise errors.DataError(
        f"NORB file {path} is truncated: {len(raw)} bytes, shorter than its "
        f"{header_size}-byte header.")
  shape = tuple(int(d) for d in np.frombuffer(raw, "<i4", count=ndim,
                                              offset=8))
  if min(shape) < 0:
    raise errors.DataError(f"NORB file {path} has negative dims {shape}.")
  dtype = _DTYPES[magic]
  expected_size = header_size + int(np.prod(shape)) * dtype.itemsize
  if len(raw) != expected_size:
    problem = "truncated" if len(raw) < expected_size else "too long"
    raise errors.DataError(
        f"NORB file {path} is {problem}: header says {dtype} {shape}, i.e. "
        f"{expected_size} bytes, but it has {len(raw)} bytes.")
  return np.frombuffer(raw, dtype, offset=header_size).reshape(shape)


def write_norb_matrix(path: os.PathLike | str, array: np.ndarray) -> None:
  """Writes a uint8 or int32 array as a NORB matrix (.gz compresses).

  The inverse of read_norb_matrix; used by tests to build tiny official-format
  files.
  """
  array = np.asarray(array)
  dtype = np.dtype(np.uint8) if array.dtype == np.uint8 else np.dtype("<i4")
  if array.dtype != dtype and not np.issubdtype(array.dtype, np.integer):
    raise ValueError(f"NORB matrices hold uint8 or int32, got {array.dtype}.")
  dims = array.shape + (1,) * max(0, 3 - array.ndim)
  header = np.array((_MAGICS[dtype], array.ndim) + dims, "<i4").tobytes()
  payload = header + array.astype(dtype).tobytes()
  idx.write_bytes(path, payload)


def load(source: str = "auto", data_dir: str = "") -> dataset_lib.Dataset:
  """Loads Small NORB as x float32 [N, H, W, 2] in [0, 1], y int32 [N, 4].

  The two channels are the left and right camera. y columns are FACTOR_NAMES:
  category 0..4, elevation 0..8, azimuth 0..17 (the files' 0, 2, .., 34
  halved), lighting 0..5. The toy instance is not returned.

  Args:
    source: "files" (official files), "tfds" (`tfds.data_source("smallnorb")`)
      or "auto": files when found, otherwise an already prepared TFDS copy.
    data_dir: for files, their directory ("" searches KNOWN_LOCATIONS); for
      tfds, the TFDS data_dir ("" = TFDS default).
  """
  if source not in ("auto", "files", "tfds"):
    raise errors.ConfigError(
        f"Small NORB source must be 'auto', 'files' or 'tfds', got "
        f"{source!r}.")
  if source == "tfds":
    return _dataset_from_tfds(data_dir, download=True)
  directory = find_dir(data_dir)
  if directory is not None:
    return _dataset(_load_split_files(directory, "train"),
                    _load_split_files(directory, "test"))
  tfds_problem = ""
  if source == "auto":
    try:
      return _dataset_from_tfds(data_dir, download=False)
    except ValueError as err:
      tfds_problem = f" TFDS fallback failed too: {err}"
  searched = ", ".join(
      str(d) for d in dataset_lib.known_locations(NAME, KNOWN_LOCATIONS))
  raise errors.DataNotFoundError(
      f"No Small NORB files found in {searched}.{tfds_problem} {_HOW_TO_GET}")


def _expand(directory: str) -> pathlib.Path:
  return pathlib.Path(os.path.expanduser(directory))


def _find_file(directory: pathlib.Path, stem: str) -> Optional[pathlib.Path]:
  for name in (stem + ".gz", stem):
    if (directory / name).is_file():
      return directory / name
  return None


def _split_paths(directory: pathlib.Path, split: str) -> dict:
  """{"dat"|"cat"|"info": path or None} for one split."""
  return {kind: _find_file(directory, f"{SPLIT_PREFIXES[split]}-{kind}.mat")
          for kind in ("dat", "cat", "info")}


def find_dir(data_dir: str = "") -> Optional[pathlib.Path]:
  """The directory with the six files: data_dir, or a KNOWN_LOCATIONS entry.

  Returns None when no known location has any of the files; raises
  FileNotFoundError naming the missing files when data_dir (or a known
  location) has only some of them.
  """
  directories = [_expand(data_dir)] if data_dir else (
      dataset_lib.known_locations(NAME, KNOWN_LOCATIONS))
  for directory in directories:
    paths = {(split, kind): path for split in SPLIT_PREFIXES
             for kind, path in _split_paths(directory, split).items()}
    missing = [f"{SPLIT_PREFIXES[split]}-{kind}.mat[.gz]"
               for (split, kind), path in paths.items() if path is None]
    if not missing:
      return directory
    if data_dir or len(missing) < len(paths):
      problem = (dataset_lib.why_not_a_directory(directory)
                 or f"lacks {', '.join(missing)}")
      raise errors.DataNotFoundError(
          f"Small NORB directory {directory} {problem}. {_HOW_TO_GET}")
  return None


def _load_split_files(directory: pathlib.Path,
                      split: str) -> dataset_lib.Split:
  paths = _split_paths(directory, split)
  dat = read_norb_matrix(paths["dat"])
  category = read_norb_matrix(paths["cat"])
  info = read_norb_matrix(paths["info"])
  if dat.dtype != np.uint8 or dat.ndim != 4 or dat.shape[1] != 2:
    raise errors.DataError(
        f"NORB file {paths['dat']} must hold uint8 [N, 2, H, W] stereo "
        f"pairs, got {dat.dtype} {dat.shape}.")
  if category.dtype.kind != "i" or category.ndim != 1:
    raise errors.DataError(
        f"NORB file {paths['cat']} must hold int32 [N] categories, got "
        f"{category.dtype} {category.shape}.")
  if info.dtype.kind != "i" or info.ndim != 2 or info.shape[1] != 4:
    raise errors.DataError(
        f"NORB file {paths['info']} must hold int32 [N, 4] (instance, "
        f"elevation, azimuth, lighting), got {info.dtype} {info.shape}.")
  if not len(dat) == len(category) == len(info):
    raise errors.DataError(
        f"Small NORB {split} files disagree on N: {len(dat)} images, "
        f"{len(category)} categories, {len(info)} info rows in {directory}.")
  _check_range(category, len(CLASS_NAMES), "category", paths["cat"])
  _check_range(info[:, 0], NUM_INSTANCES, "instance", paths["info"])
  _check_range(info[:, 1], FACTOR_SIZES[1], "elevation", paths["info"])
  azimuth = info[:, 2]
  if np.any(azimuth % 2):
    raise errors.DataError(
        f"NORB file {paths['info']} has odd azimuth values; expected "
        f"0, 2, .., 34.")
  _check_range(azimuth // 2, FACTOR_SIZES[2], "azimuth / 2", paths["info"])
  _check_range(info[:, 3], FACTOR_SIZES[3], "lighting", paths["info"])
  y = np.stack([category, info[:, 1], azimuth // 2, info[:, 3]], axis=-1)
  return dataset_lib.Split(x=_stereo_to_unit_float(dat, channel_axis=1),
                           y=y.astype(np.int32))


def _check_range(values: np.ndarray, size: int, what: str, origin) -> None:
  if values.size and (values.min() < 0 or values.max() >= size):
    raise errors.DataError(
        f"Small NORB {what} in {origin} spans {values.min()}..{values.max()},"
        f" expected 0..{size - 1}.")


def _stereo_to_unit_float(images: np.ndarray,
                          channel_axis: int) -> np.ndarray:
  """uint8 stereo pairs -> float32 [N, H, W, 2] in [0, 1], one allocation."""
  x = np.moveaxis(images, channel_axis, -1).astype(np.float32)
  x /= 255.0
  return x


def _dataset(train: dataset_lib.Split,
             test: dataset_lib.Split) -> dataset_lib.Dataset:
  return dataset_lib.Dataset(
      name=NAME,
      train=train,
      test=test,
      num_classes=FACTOR_SIZES[0],
      likelihood=model_spec.BERNOULLI,
      class_names=CLASS_NAMES,
      factor_names=FACTOR_NAMES,
      factor_sizes=FACTOR_SIZES)


def _dataset_from_tfds(data_dir: str, download: bool) -> dataset_lib.Dataset:
  """Reads TFDS's "smallnorb" train and test splits via data_source."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  splits = {}
  try:
    sources = tfds.data_source(NAME, split=["train", "test"],
                               data_dir=data_dir or None, download=download)
    for split, source in zip(("train", "test"), sources):
      splits[split] = _arrays_from_tfds_source(source)
  except Exception as err:  # pylint: disable=broad-except
    # TFDS raises many types (not prepared, no network, bad files).
    raise errors.DataError(
        f"TFDS could not provide {NAME!r} (data_dir={data_dir or 'default'}, "
        f"download={download}): {type(err).__name__}: {err}") from err
  for split, (images, y) in splits.items():
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1] != 2:
      raise errors.DataError(
          f"TFDS {NAME!r} {split} images must be uint8 [N, 2, H, W] after "
          f"stacking image and image2, got {images.dtype} {images.shape}.")
    for k, name in enumerate(FACTOR_NAMES):
      _check_range(y[:, k], FACTOR_SIZES[k], name, f"TFDS {split}")
    splits[split] = dataset_lib.Split(
        x=_stereo_to_unit_float(images, channel_axis=1), y=y.astype(np.int32))
  return _dataset(splits["train"], splits["test"])


def _arrays_from_tfds_source(source) -> tuple:
  """(uint8 [N, 2, H, W], int64 [N, 4]) from a TFDS smallnorb data source."""
  num_examples = len(source)
  images, y = None, np.empty((num_examples, len(TFDS_LABELS)), np.int64)
  for i in range(num_examples):
    example = source[i]
    left, right = (np.asarray(example[key]) for key in ("image", "image2"))
    if images is None:
      images = np.empty((num_examples, 2) + left.shape[:2], np.uint8)
    images[i, 0] = left.reshape(images.shape[2:])
    images[i, 1] = right.reshape(images.shape[2:])
    y[i] = [int(example[label]) for label in TFDS_LABELS]
  if images is None:
    raise ValueError("a split is empty")
  return images, y
