"""MNIST and Fashion-MNIST from the official IDX files.

The IDX format is a big-endian header (magic number, then one uint32 per
dimension) followed by the raw uint8 values. Both data sets ship as four such
files, usually gzip-compressed; uncompressed copies are accepted too.

A file with the size of an official MNIST or Fashion-MNIST file is checked
against the official files' MD5s (OFFICIAL_MD5) when a data set is loaded,
so that Fashion-MNIST's files read as MNIST (or a damaged download, or train
and test files swapped) are refused, naming the file and what it really is.
Files of any other size cannot be official files and are read as the user's
own IDX data; `verify_checksums=False` (config.data.verify_checksums) reads
an official-size file of one's own too.
"""

import gzip
import hashlib
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
        "~/.cache/ssvae/mnist (or $SSVAE_DATA_DIR/mnist), or set data.data_dir "
        "to their directory."),
    "fashion_mnist": (
        "Install the Debian package dataset-fashion-mnist "
        "(apt-get install dataset-fashion-mnist), or download the four "
        "*-ubyte.gz files from https://github.com/zalandoresearch/"
        "fashion-mnist (folder data/fashion) into "
        "~/.cache/ssvae/fashion_mnist (or $SSVAE_DATA_DIR/fashion_mnist), or "
        "set data.data_dir to their directory."),
}


# MD5 of each official file's IDX content: the file itself, or what its .gz
# holds (the published checksums of the uncompressed files, as torchvision
# lists them). The content, not the .gz, is what is compared: the published
# .gz MD5s (MNIST's train images f68b3c2dcbeaaa9fbdd348bbdeb94873,
# Fashion-MNIST's 8d4fb7e6c68d591d4c3dfef9ec88bf0d, ...) differ for a copy
# that was recompressed, such as the Debian package's, whose content is the
# same.
OFFICIAL_MD5 = {
    "mnist": {
        "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    },
    "fashion_mnist": {
        "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
    },
}
# Content sizes of the official files (60000 training and 10000 test points
# of 28x28): only a file of one of these sizes can be an official file.
OFFICIAL_SIZES = {
    "train-images-idx3-ubyte": 16 + 60000 * 28 * 28,
    "train-labels-idx1-ubyte": 8 + 60000,
    "t10k-images-idx3-ubyte": 16 + 10000 * 28 * 28,
    "t10k-labels-idx1-ubyte": 8 + 10000,
}
DISPLAY_NAMES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
_OFFICIAL_FILES = {digest: (name, stem)
                   for name, files in OFFICIAL_MD5.items()
                   for stem, digest in files.items()}


def check_official(raw: bytes, path: os.PathLike | str, name: str,
                   stem: str) -> None:
  """DataError unless `raw` (the IDX content of `path`, read as `name`'s
  file `stem`) is that official file, when it has an official file's size.

  The error names the file and, when its MD5 is another official file's,
  which data set and file it really is.
  """
  if len(raw) not in OFFICIAL_SIZES.values():
    return  # Not an official file: the user's own IDX data.
  digest = hashlib.md5(raw).hexdigest()
  expected = OFFICIAL_MD5[name][stem]
  if digest == expected:
    return
  wanted = DISPLAY_NAMES[name]
  if digest in _OFFICIAL_FILES:
    real_name, real_stem = _OFFICIAL_FILES[digest]
    real = DISPLAY_NAMES[real_name]
    if real_name != name:
      raise errors.DataError(
          f"IDX file {path} is {real}'s {real_stem}, not {wanted}'s (by its "
          f"MD5): data.name={name!r} reads {wanted}. Point data.data_dir at "
          f"{wanted}'s files, or set data.name={real_name!r} to train on "
          f"{real}.")
    raise errors.DataError(
        f"IDX file {path} is {wanted}'s {real_stem}, not its {stem} (by its "
        "MD5): the files were renamed or swapped; give each file its "
        "official name.")
  raise errors.DataError(
      f"IDX file {path} has the size of an official MNIST / Fashion-MNIST "
      f"file ({len(raw)} bytes) but is not {wanted}'s {stem} (MD5 {digest}, "
      f"expected {expected}): it is damaged or from another source. Download "
      "it again, or set config.data.verify_checksums=False if it is your "
      "own IDX data.")


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
  return _parse_raw(_read_bytes(path), path, magic, ndim)


def _parse_raw(raw: bytes, path: pathlib.Path, magic: int,
               ndim: int) -> np.ndarray:
  """The uint8 array of IDX content `raw` (read from `path`)."""
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
  """data_dir alone when given, else $SSVAE_DATA_DIR/<name> and the known
  locations of `name` (dataset.known_locations)."""
  if data_dir:
    return [pathlib.Path(data_dir).expanduser()]
  return dataset_lib.known_locations(name, KNOWN_LOCATIONS[name])


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


def _read_data_file(directory: pathlib.Path, stem: str, name: str,
                    verify_checksums: bool) -> tuple[pathlib.Path, np.ndarray]:
  """(path, array) of `name`'s file `stem` in directory, checked against
  the official file (check_official) when verify_checksums."""
  path = _find_file(directory, stem)
  raw = _read_bytes(path)
  if verify_checksums:
    check_official(raw, path, name, stem)
  images = stem.startswith(("train-images", "t10k-images"))
  return path, _parse_raw(raw, path, IMAGES_MAGIC if images else LABELS_MAGIC,
                          ndim=3 if images else 1)


def _load_split(directory: pathlib.Path, split: str, name: str,
                verify_checksums: bool) -> dataset_lib.Split:
  images_stem, labels_stem = SPLIT_FILES[split]
  images_path, images = _read_data_file(directory, images_stem, name,
                                        verify_checksums)
  labels_path, labels = _read_data_file(directory, labels_stem, name,
                                        verify_checksums)
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


def load_idx_dataset(name: str, data_dir: Optional[str] = None, *,
                     verify_checksums: bool = True) -> dataset_lib.Dataset:
  """Loads mnist or fashion_mnist from IDX files.

  Args:
    name: "mnist" or "fashion_mnist".
    data_dir: directory holding the four files; None or "" searches
      KNOWN_LOCATIONS[name].
    verify_checksums: refuse a file with the size of an official file that
      is not `name`'s official file (check_official); False reads it as the
      user's own data.

  Returns:
    Dataset with x float32 [N, 28, 28, 1] in [0, 1] and y int32 [N].
  """
  directory = find_idx_dir(name, data_dir)
  return dataset_lib.Dataset(
      name=name,
      train=_load_split(directory, "train", name, verify_checksums),
      test=_load_split(directory, "test", name, verify_checksums),
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
  # Not official files, whatever their size.
  return load_idx_dataset(name, str(directory), verify_checksums=False)
