"""MNIST and Fashion-MNIST from the official IDX files.

The IDX format is a big-endian header (magic number, then one uint32 per
dimension) followed by the raw uint8 values. Both data sets ship as four such
files, usually gzip-compressed; uncompressed copies are accepted too.
"""

import gzip
import os
import pathlib
import shutil
import tempfile
from typing import Optional

import numpy as np

from ssvae import errors
from ssvae.data import dataset as dataset_lib

IMAGES_MAGIC = 2051  # 0x00000803: uint8 values, 3 dimensions.
LABELS_MAGIC = 2049  # 0x00000801: uint8 values, 1 dimension.
IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10

MNIST_CLASS_NAMES = tuple(str(digit) for digit in range(10))
FASHION_MNIST_CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
    "Sneaker", "Bag", "Ankle boot")
CLASS_NAMES = {
    "mnist": MNIST_CLASS_NAMES,
    "fashion_mnist": FASHION_MNIST_CLASS_NAMES,
}

# File stems of each split; "<stem>.gz" is preferred over the bare "<stem>".
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

_REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]

# Directories searched, in order, when no data_dir is given. Strings so that
# "~" is expanded at call time (tests may change HOME or patch this dict).
KNOWN_LOCATIONS = {
    "mnist": (
        os.path.join(_REPO_ROOT, "..", "shared", "data", "mnist"),
        "~/.cache/ssvae/mnist",
    ),
    "fashion_mnist": (
        os.path.join(_REPO_ROOT, "..", "shared", "data", "fashion_mnist"),
        "/usr/share/datasets/fashion-mnist",
        "~/.cache/ssvae/fashion_mnist",
    ),
}

_HOW_TO_GET = {
    "mnist": (
        "Download train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
        "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (e.g. from "
        "https://storage.googleapis.com/cvdf-datasets/mnist/) into "
        "~/.cache/ssvae/mnist, or set data.data_dir to their directory."),
    "fashion_mnist": (
        "Install the Debian package dataset-fashion-mnist "
        "(apt-get install dataset-fashion-mnist), or download the four "
        "*-ubyte.gz files from https://github.com/zalandoresearch/"
        "fashion-mnist (folder data/fashion) into "
        "~/.cache/ssvae/fashion_mnist, or set data.data_dir to their "
        "directory."),
}


def _read_bytes(path: pathlib.Path) -> bytes:
  """Whole file contents, gunzipped when the name ends in .gz."""
  try:
    if path.suffix == ".gz":
      with gzip.open(path, "rb") as f:
        return f.read()
    return path.read_bytes()
  except (EOFError, gzip.BadGzipFile, OSError) as err:
    # EOFError: truncated gzip stream; BadGzipFile: not gzip at all.
    raise errors.DataError(f"Cannot read IDX file {path}: {err}") from err


def _parse_idx(path: pathlib.Path, magic: int, ndim: int) -> np.ndarray:
  """Parses one uint8 IDX file after checking its header and length."""
  raw = _read_bytes(path)
  header_size = 4 * (1 + ndim)
  if len(raw) < header_size:
    raise errors.DataError(
        f"IDX file {path} is truncated: {len(raw)} bytes, shorter than its "
        f"{header_size}-byte header.")
  header = np.frombuffer(raw, dtype=">u4", count=1 + ndim)
  if int(header[0]) != magic:
    raise errors.DataError(
        f"IDX file {path} has magic number {int(header[0])}, expected {magic} "
        f"({'images' if magic == IMAGES_MAGIC else 'labels'}); wrong file?")
  shape = tuple(int(d) for d in header[1:])
  expected_size = header_size + int(np.prod(shape))
  if len(raw) != expected_size:
    problem = "truncated" if len(raw) < expected_size else "too long"
    raise errors.DataError(
        f"IDX file {path} is {problem}: header says shape {shape}, i.e. "
        f"{expected_size} bytes, but the file has {len(raw)} bytes.")
  return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(shape)


def read_idx_images(path: os.PathLike | str) -> np.ndarray:
  """uint8 [N, rows, cols] from an images IDX file (magic 2051)."""
  return _parse_idx(pathlib.Path(path), IMAGES_MAGIC, ndim=3)


def read_idx_labels(path: os.PathLike | str) -> np.ndarray:
  """uint8 [N] from a labels IDX file (magic 2049)."""
  return _parse_idx(pathlib.Path(path), LABELS_MAGIC, ndim=1)


def _find_file(directory: pathlib.Path, stem: str) -> Optional[pathlib.Path]:
  for name in (stem + ".gz", stem):
    if (directory / name).is_file():
      return directory / name
  return None


def _missing_files(directory: pathlib.Path) -> list[str]:
  stems = [stem for pair in SPLIT_FILES.values() for stem in pair]
  return [stem + "[.gz]" for stem in stems
          if _find_file(directory, stem) is None]


def candidate_dirs(name: str, data_dir: Optional[str]) -> list[pathlib.Path]:
  """data_dir alone when given, else the known locations of `name`."""
  if data_dir:
    return [pathlib.Path(data_dir).expanduser()]
  return [pathlib.Path(os.path.normpath(os.path.expanduser(location)))
          for location in KNOWN_LOCATIONS[name]]


def find_idx_dir(name: str, data_dir: Optional[str] = None) -> pathlib.Path:
  """First candidate directory holding all four IDX files of `name`."""
  _check_name(name)
  searched = []
  for directory in candidate_dirs(name, data_dir):
    missing = _missing_files(directory)
    if not missing:
      return directory
    reason = (dataset_lib.why_not_a_directory(directory)
              or "lacks " + ", ".join(missing))
    searched.append(f"{directory}: {reason}")
  raise errors.DataNotFoundError(
      f"IDX files of {name} not found. Looked in: " + "; ".join(searched)
      + ". " + _HOW_TO_GET[name])


def _load_split(directory: pathlib.Path, split: str) -> dataset_lib.Split:
  images_stem, labels_stem = SPLIT_FILES[split]
  images_path = _find_file(directory, images_stem)
  labels_path = _find_file(directory, labels_stem)
  images = read_idx_images(images_path)
  labels = read_idx_labels(labels_path)
  if images.shape[1:] != IMAGE_SHAPE:
    raise errors.DataError(
        f"IDX file {images_path} holds images of shape {images.shape[1:]}, "
        f"expected {IMAGE_SHAPE}.")
  if len(images) != len(labels):
    raise errors.DataError(
        f"{images_path} has {len(images)} images but {labels_path} has "
        f"{len(labels)} labels.")
  if labels.size and labels.max() >= NUM_CLASSES:
    raise errors.DataError(
        f"IDX file {labels_path} has label {labels.max()}, expected "
        f"0..{NUM_CLASSES - 1}.")
  return dataset_lib.Split(x=images_to_unit_float(images),
                           y=labels.astype(np.int32))


def images_to_unit_float(images: np.ndarray) -> np.ndarray:
  """uint8 [N, H, W] or [N, H, W, C] -> float32 [N, H, W, C] in [0, 1]."""
  if images.ndim == 3:
    images = images[..., np.newaxis]
  x = images.astype(np.float32)
  x /= 255.0
  return x


def _check_name(name: str) -> None:
  if name not in CLASS_NAMES:
    raise ValueError(
        f"No IDX data set named {name!r}; expected one of "
        f"{sorted(CLASS_NAMES)}.")


def load_idx_dataset(name: str,
                     data_dir: Optional[str] = None) -> dataset_lib.Dataset:
  """Loads mnist or fashion_mnist from IDX files.

  Args:
    name: "mnist" or "fashion_mnist".
    data_dir: directory holding the four files; None or "" searches
      KNOWN_LOCATIONS[name].

  Returns:
    Dataset with x float32 [N, 28, 28, 1] in [0, 1] and y int32 [N].
  """
  directory = find_idx_dir(name, data_dir)
  return dataset_lib.Dataset(
      name=name,
      train=_load_split(directory, "train"),
      test=_load_split(directory, "test"),
      num_classes=NUM_CLASSES,
      likelihood="bernoulli",
      class_names=CLASS_NAMES[name])


def write_bytes(path: os.PathLike | str, payload: bytes) -> None:
  """Writes `payload` to path, gzip-compressed when the name ends in .gz
  (the inverse of _read_bytes; IDX and NORB writers share it)."""
  path = pathlib.Path(path)
  if path.suffix == ".gz":
    with gzip.open(path, "wb") as f:
      f.write(payload)
  else:
    path.write_bytes(payload)


def write_idx(path: os.PathLike | str, array: np.ndarray) -> None:
  """Writes uint8 `array` as an IDX file (gzip when the name ends in .gz).

  The inverse of the readers; used by tests to build tiny official-format
  files.
  """
  array = np.asarray(array, dtype=np.uint8)
  magic = {3: IMAGES_MAGIC, 1: LABELS_MAGIC}.get(array.ndim)
  if magic is None:
    raise ValueError(
        f"write_idx supports 1-D labels or 3-D images, got {array.ndim}-D.")
  header = np.array((magic,) + array.shape, dtype=">u4").tobytes()
  payload = header + array.tobytes()
  write_bytes(path, payload)


# A tiny stand-in of an IDX data set, in its official format: what the quick
# variants of the Fashion-MNIST tables read (data.source='synthetic').
SYNTHETIC_SIZES = {"train": 1500, "test": 300}


def synthetic_images(num: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
  """(uint8 images [num, 28, 28], labels [num]): one random binary prototype
  per class, each image its class's prototype with 10% of pixels flipped,
  so a classifier can learn the classes."""
  prototypes = np.random.default_rng(0).random(
      (NUM_CLASSES,) + IMAGE_SHAPE) < 0.3
  rng = np.random.default_rng(seed)
  labels = np.arange(num) % NUM_CLASSES
  flips = rng.random((num,) + IMAGE_SHAPE) < 0.1
  images = (prototypes[labels] ^ flips).astype(np.uint8) * 255
  return images, labels.astype(np.uint8)


def write_synthetic_idx_set(directory: os.PathLike | str) -> None:
  """The four official files of a synthetic set (SYNTHETIC_SIZES)."""
  directory = pathlib.Path(directory)
  directory.mkdir(parents=True, exist_ok=True)
  for seed, split in enumerate(("train", "test")):
    images, labels = synthetic_images(SYNTHETIC_SIZES[split], seed=seed + 1)
    images_stem, labels_stem = SPLIT_FILES[split]
    write_idx(directory / f"{images_stem}.gz", images)
    write_idx(directory / f"{labels_stem}.gz", labels)


def load_synthetic_idx_dataset(name: str) -> dataset_lib.Dataset:
  """`name`'s tiny synthetic set, written once to a temporary directory and
  read back through load_idx_dataset, like the real files."""
  _check_name(name)
  sizes = "_".join(str(n) for n in SYNTHETIC_SIZES.values())
  directory = (pathlib.Path(tempfile.gettempdir())
               / f"ssvae_synthetic_{name}_{sizes}")
  if not directory.is_dir():
    staging = pathlib.Path(tempfile.mkdtemp(dir=directory.parent))
    write_synthetic_idx_set(staging)
    try:
      staging.rename(directory)  # atomic: concurrent runs see all or none
    except OSError:  # another process got there first
      shutil.rmtree(staging, ignore_errors=True)
  return load_idx_dataset(name, str(directory))
