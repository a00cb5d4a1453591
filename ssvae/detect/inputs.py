"""What a user hands the anomaly detector: arrays to score and feedback CSVs.

Arrays come from `.npy` or `.npz` files or from IDX image files (`*-ubyte`,
`*-ubyte.gz`, as MNIST ships), read by ssvae.data.array_files. Every problem
is raised as InputError, one line that names the file and what to do.
"""

import csv
import math
import os
import re

import numpy as np

from ssvae.data import array_files
from ssvae.data import idx
from ssvae.detect import feedback

FALSE_POSITIVE = "false_positive"
FALSE_NEGATIVE = "false_negative"
FEEDBACK_LABELS = (FALSE_POSITIVE, FALSE_NEGATIVE)
FEEDBACK_HEADER = ("index", "label")


# One error type for every file the detector reads (arrays and CSVs).
InputError = array_files.ArrayFileError
read_array = array_files.read_array


def _reshape_to(array: np.ndarray, input_shape: tuple, path: str) -> np.ndarray:
  """[N, *input_shape] from [N, *input_shape], [N, H, W] (channel 1 implied)
  or [N, prod(input_shape)]."""
  wanted = tuple(input_shape)
  if array.ndim >= 1 and array.shape[1:] == wanted:
    return array
  if wanted[-1] == 1 and array.shape[1:] == wanted[:-1]:
    return array[..., np.newaxis]
  if array.ndim == 2 and array.shape[1] == math.prod(wanted):
    return array.reshape((len(array),) + wanted)
  shape = ", ".join(map(str, wanted))
  raise InputError(
      f"{path} holds an array of shape {array.shape}; the model takes "
      f"[N, {shape}] (or [N, {math.prod(wanted)}] flattened).")


def model_inputs(array: np.ndarray, input_shape: tuple, likelihood: str,
                 path: str) -> np.ndarray:
  """float32 [N, *input_shape] from an array read_array returned.

  uint8 arrays (and IDX files) are images in 0..255 and are divided by 255,
  as the loaders do; other numeric arrays are used as given, so they must
  be on the training data's scale ([0, 1] for Bernoulli likelihoods).
  """
  array = _reshape_to(array, input_shape, path)
  if array.dtype == np.uint8:
    x = idx.images_to_unit_float(array)
  else:
    x = array.astype(np.float32)
  if likelihood == "bernoulli" and (x.min() < 0 or x.max() > 1):
    raise InputError(
        f"{path} has values in [{x.min():g}, {x.max():g}], but this model "
        "scores intensities in [0, 1]; scale the data as for training (e.g. "
        "divide 0..255 images by 255, or save them as uint8).")
  return x


def load_inputs(path: str, input_shape: tuple, likelihood: str,
                npz_key: str = "") -> np.ndarray:
  """read_array then model_inputs."""
  return model_inputs(read_array(path, npz_key), input_shape, likelihood, path)


def read_feedback_csv(path: str, num_points: int) -> feedback.FeedbackLabels:
  """(index, false_positive | false_negative) rows -> FeedbackLabels.

  index: the row of the scored data file (the CSV written by the detector
  numbers rows the same way). The first line must be the header
  `index,label`. UTF-8 text, with or without a byte-order mark (as some
  spreadsheets save it).
  """
  if not os.path.isfile(path):
    raise InputError(f"{path} does not exist or is not a file.")
  try:
    with open(path, newline="", encoding="utf-8-sig") as f:
      rows = [row for row in csv.reader(f) if row and any(c.strip()
                                                          for c in row)]
  except UnicodeDecodeError as err:
    raise InputError(f"{path} is not UTF-8 text ({err.reason} at byte "
                     f"{err.start}); save it as UTF-8 CSV.") from err
  except csv.Error as err:
    raise InputError(f"{path} is not a readable CSV file: {err}.") from err
  if not rows or tuple(c.strip() for c in rows[0]) != FEEDBACK_HEADER:
    raise InputError(f"{path} must start with the header line "
                     f"'{','.join(FEEDBACK_HEADER)}'.")
  if len(rows) == 1:
    raise InputError(f"{path} has a header but no feedback rows.")
  by_label = {label: [] for label in FEEDBACK_LABELS}
  for line, row in enumerate(rows[1:], start=2):
    if len(row) != 2:
      raise InputError(f"{path} line {line}: expected 'index,label', got "
                       f"{','.join(row)!r}.")
    index, label = (c.strip() for c in row)
    if label not in by_label:
      raise InputError(f"{path} line {line}: label {label!r} is not one of "
                       f"{FEEDBACK_LABELS}.")
    # ASCII digits only: str.isdigit() accepts '²', which int() refuses.
    if not re.fullmatch(r"[0-9]+", index):
      raise InputError(f"{path} line {line}: index {index!r} is not a row "
                       f"of the scored data: not a whole number 0.."
                       f"{num_points - 1}.")
    if int(index) >= num_points:
      raise InputError(f"{path} line {line}: index {index!r} is not a row of "
                       f"the scored data (0..{num_points - 1}).")
    by_label[label].append(int(index))
  try:
    return feedback.FeedbackLabels(
        np.array(by_label[FALSE_POSITIVE], np.int64),
        np.array(by_label[FALSE_NEGATIVE], np.int64))
  except ValueError as err:
    raise InputError(f"{path}: {err}") from err
