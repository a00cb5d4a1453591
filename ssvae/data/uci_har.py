"""UCI Human Activity Recognition (HAR) from the official raw files.

Reads the raw inertial windows of the "UCI HAR Dataset" folder (Anguita et al.
2013): 128 readings per window (2.56 s at 50 Hz), one text file per signal,
official subject-disjoint train (7352) / test (2947) split.

  UCI HAR Dataset/
    activity_labels.txt                        "1 WALKING" ... "6 LAYING"
    train/y_train.txt                          one label in 1..6 per line
    train/Inertial Signals/<signal>_train.txt  128 floats per line
    test/...                                   same with _test

x is float32 [N, 128, C], C = len(channels), channel order as given. By
default every channel is standardized with the mean and standard deviation of
the TRAIN split (over all windows and time steps), and the same affine map is
applied to the test split, so the Gaussian decoder sees unit-scale data and
no test statistics leak into training; pass standardize=False for the raw
values (g for acceleration, rad/s for the gyroscope).
"""

import pathlib
from typing import Sequence

import numpy as np

from ssvae import errors
from ssvae import model_spec
from ssvae.data import dataset

NAME = "uci_har"
FOLDER_NAME = "UCI HAR Dataset"
WINDOW_LENGTH = 128
NUM_CLASSES = 6
CLASS_NAMES = ("WALKING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS", "SITTING",
               "STANDING", "LAYING")
ALL_CHANNELS = (
    "body_acc_x", "body_acc_y", "body_acc_z",
    "body_gyro_x", "body_gyro_y", "body_gyro_z",
    "total_acc_x", "total_acc_y", "total_acc_z",
)
DEFAULT_CHANNELS = ALL_CHANNELS[:6]
SPLITS = ("train", "test")

_REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
KNOWN_LOCATIONS = (
    _REPO_ROOT.parent / "shared" / "data" / "uci_har",
    pathlib.Path("~/.cache/ssvae/uci_har").expanduser(),
)
_HOW_TO_GET = (
    "Download 'Human Activity Recognition Using Smartphones' from "
    "https://archive.ics.uci.edu/dataset/240 , unzip it and its inner "
    f"'{FOLDER_NAME}.zip', and pass the '{FOLDER_NAME}' folder (or its parent) "
    f"as data_dir, or place it in $SSVAE_DATA_DIR/uci_har or one of: "
    + ", ".join(str(p) for p in KNOWN_LOCATIONS) + ".")


def load(source: str = "auto",
         data_dir: str = "",
         channels: Sequence[str] = DEFAULT_CHANNELS,
         standardize: bool = True) -> dataset.Dataset:
  """Loads UCI HAR inertial windows as a Dataset (Gaussian likelihood).

  Args:
    source: "auto" or "files"; HAR is read from the official files only.
    data_dir: the "UCI HAR Dataset" folder or its parent; "" searches
      KNOWN_LOCATIONS.
    channels: signal names from ALL_CHANNELS, in the order wanted.
    standardize: per-channel standardization with TRAIN statistics.

  Returns:
    Dataset with x float32 [N, 128, len(channels)] and y int32 in 0..5.
  """
  if source not in ("auto", "files"):
    raise errors.ConfigError(
        f"UCI HAR supports source 'auto' or 'files', got {source!r}: it is not "
        f"in TFDS and has no embedded copy. {_HOW_TO_GET}")
  channels = _validate_channels(channels)
  root = find_root(data_dir)
  class_names = _read_class_names(root)
  splits = {name: _read_split(root, name, channels) for name in SPLITS}
  if standardize:
    mean, std = channel_statistics(splits["train"].x)
    splits = {name: dataset.Split(x=standardize_channels(s.x, mean, std),
                                  y=s.y)
              for name, s in splits.items()}
  return dataset.Dataset(
      name=NAME,
      train=splits["train"],
      test=splits["test"],
      num_classes=NUM_CLASSES,
      likelihood=model_spec.GAUSSIAN,
      class_names=class_names,
  )


def find_root(data_dir: str = "") -> pathlib.Path:
  """Returns the "UCI HAR Dataset" folder under data_dir or a known location."""
  if data_dir:
    candidates = (pathlib.Path(data_dir).expanduser(),)
    problem = dataset.why_not_a_directory(candidates[0])
    if problem:
      raise errors.DataNotFoundError(
          f"No '{FOLDER_NAME}' folder found: data_dir {candidates[0]} "
          f"{problem}. {_HOW_TO_GET}")
  else:
    candidates = dataset.known_locations("uci_har", KNOWN_LOCATIONS)
  for base in candidates:
    for root in (base, base / FOLDER_NAME):
      if (root / "train").is_dir() and (root / "test").is_dir():
        return root
  searched = ", ".join(str(c) for c in candidates)
  raise errors.DataNotFoundError(
      f"No '{FOLDER_NAME}' folder (with train/ and test/) found in: "
      f"{searched}. {_HOW_TO_GET}")


def channel_statistics(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Per-channel mean and std of [N, T, C] over windows and time steps."""
  mean = x.mean(axis=(0, 1), dtype=np.float64)
  std = x.std(axis=(0, 1), dtype=np.float64)
  if np.any(std == 0):
    constant = np.flatnonzero(std == 0).tolist()
    raise errors.DataError(
        f"Cannot standardize: channel(s) {constant} are constant in the "
        "training split.")
  return mean, std


def standardize_channels(x: np.ndarray, mean: np.ndarray,
                         std: np.ndarray) -> np.ndarray:
  return ((x - mean) / std).astype(np.float32)


def _validate_channels(channels: Sequence[str]) -> tuple[str, ...]:
  if isinstance(channels, str):
    raise errors.ConfigError(
        f"channels must be a sequence of names, got the string {channels!r}.")
  channels = tuple(channels)
  if not channels:
    raise errors.ConfigError(
        "channels is empty; choose from " + ", ".join(ALL_CHANNELS))
  unknown = [c for c in channels if c not in ALL_CHANNELS]
  if unknown:
    raise errors.ConfigError(
        f"Unknown UCI HAR channel(s) {unknown}; choose from "
        + ", ".join(ALL_CHANNELS))
  if len(set(channels)) != len(channels):
    raise errors.ConfigError(f"Duplicate UCI HAR channels in {list(channels)}.")
  return channels


def _require_file(path: pathlib.Path) -> pathlib.Path:
  if not path.is_file():
    raise errors.DataNotFoundError(
        f"Missing UCI HAR file {path}. The folder looks incomplete; "
        + _HOW_TO_GET)
  return path


def _read_split(root: pathlib.Path, split: str,
                channels: tuple[str, ...]) -> dataset.Split:
  labels_path = _require_file(root / split / f"y_{split}.txt")
  labels = _read_labels(labels_path)
  signals = []
  for channel in channels:
    path = _require_file(
        root / split / "Inertial Signals" / f"{channel}_{split}.txt")
    signal = _read_float_rows(path, WINDOW_LENGTH)
    if len(signal) != len(labels):
      raise errors.DataError(
          f"{path} has {len(signal)} rows but {labels_path} has "
          f"{len(labels)} labels; the files must have one row per window.")
    signals.append(signal)
  x = np.stack(signals, axis=-1)
  return dataset.Split(x=x, y=labels)


def _nonblank_lines(path: pathlib.Path) -> list[tuple[int, str]]:
  """(1-based line number, text) of each non-blank line."""
  with open(path, "r") as f:
    return [(i, line) for i, line in enumerate(f, start=1) if line.strip()]


def _read_float_rows(path: pathlib.Path, row_length: int) -> np.ndarray:
  """Reads whitespace-separated float rows, each exactly row_length long."""
  lines = _nonblank_lines(path)
  if not lines:
    raise errors.DataError(f"{path} is empty.")
  tokens = []
  for line_number, line in lines:
    row = line.split()
    if len(row) != row_length:
      raise errors.DataError(
          f"{path} line {line_number} has {len(row)} values, expected "
          f"{row_length}.")
    tokens.extend(row)
  try:
    values = np.array(tokens, dtype=np.float32)
  except ValueError:
    for line_number, line in lines:
      try:
        np.array(line.split(), dtype=np.float32)
      except ValueError as e:
        raise errors.DataError(
            f"{path} line {line_number} has a non-numeric value: {e}") from None
    raise
  return values.reshape(len(lines), row_length)


def _read_labels(path: pathlib.Path) -> np.ndarray:
  """Reads one activity id (1..6) per line and returns int32 ids 0..5."""
  labels = []
  for line_number, line in _nonblank_lines(path):
    text = line.strip()
    try:
      label = int(text)
    except ValueError:
      raise errors.DataError(
          f"{path} line {line_number}: expected one integer label, got "
          f"{text!r}.") from None
    if not 1 <= label <= NUM_CLASSES:
      raise errors.DataError(
          f"{path} line {line_number}: label {label} is outside "
          f"1..{NUM_CLASSES}.")
    labels.append(label - 1)
  if not labels:
    raise errors.DataError(f"{path} is empty.")
  return np.asarray(labels, dtype=np.int32)


def _read_class_names(root: pathlib.Path) -> tuple[str, ...]:
  """Class names from activity_labels.txt, or the official ones if absent."""
  path = root / "activity_labels.txt"
  if not path.is_file():
    return CLASS_NAMES
  entries = []
  for line_number, line in _nonblank_lines(path):
    parts = line.split()
    if len(parts) != 2 or not parts[0].isdigit():
      raise errors.DataError(
          f"{path} line {line_number}: expected '<id> <NAME>', "
          f"got {line.strip()!r}.")
    entries.append((int(parts[0]), parts[1]))
  ids = sorted(i for i, _ in entries)
  if ids != list(range(1, NUM_CLASSES + 1)):
    raise errors.DataError(
        f"{path} must name activities 1..{NUM_CLASSES} once each, "
        f"found ids {ids}.")
  return tuple(name for _, name in sorted(entries))
