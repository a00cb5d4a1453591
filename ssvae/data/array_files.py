"""Reading a user's array files: `.npy`, `.npz` and IDX images.

Read with allow_pickle=False, so a file holding Python objects is refused,
never unpickled. Every problem is raised as ArrayFileError, one line that
names the file and what to do. Used by the own-data loader
(ssvae.data.arrays) and by the anomaly detector (ssvae.detect.inputs).
"""

import os

import numpy as np

from ssvae import errors
from ssvae.data import idx


class ArrayFileError(errors.DataError):
  """A user-supplied file cannot be used; the message says why."""


def _refuse_pickle(path: str, key: str = "") -> ArrayFileError:
  where = f"{path}[{key!r}]" if key else path
  save = "numpy.savez" if key else "numpy.save"
  return ArrayFileError(
      f"{where} holds a pickled object array, which is refused (it could run "
      f"code); save a numeric array with {save}.")


def load_numpy(path: str) -> dict:
  """{name: array} of an .npz file, or {'': array} of an .npy file."""
  try:
    loaded = np.load(path, allow_pickle=False)
  except ValueError as err:
    if "allow_pickle" in str(err):
      raise _refuse_pickle(path) from err
    raise ArrayFileError(
        f"{path} is not a readable .npy/.npz file: {err}") from err
  except EOFError as err:
    raise ArrayFileError(f"{path} is empty or truncated.") from err
  if isinstance(loaded, np.ndarray):
    return {"": loaded}
  with loaded:
    arrays = {}
    for key in loaded.files:
      try:
        arrays[key] = loaded[key]
      except ValueError as err:
        raise _refuse_pickle(path, key) from err
    return arrays


def _choose_npz_array(path: str, arrays: dict, npz_key: str) -> np.ndarray:
  if not arrays:
    raise ArrayFileError(f"{path} holds no arrays.")
  keys = list(arrays)
  key = npz_key or ("x" if "x" in arrays else keys[0] if len(keys) == 1
                    else None)
  if key is None or key not in arrays:
    raise ArrayFileError(
        f"{path} holds arrays {keys}; choose one with --npz_key (an array "
        "named 'x' is used by default).")
  return arrays[key]


def _load_idx(path: str) -> np.ndarray:
  try:
    return idx.read_idx_images(path)
  except ValueError as err:
    raise ArrayFileError(
        f"{err} (expected .npy, .npz or an IDX images file).") from err


def check_file(path: str) -> None:
  """Refuses a path that is not a non-empty file."""
  if not os.path.isfile(path):
    raise ArrayFileError(f"{path} does not exist or is not a file.")
  if os.path.getsize(path) == 0:
    raise ArrayFileError(f"{path} is empty (0 bytes).")


def check_examples(array: np.ndarray, path: str) -> np.ndarray:
  """`array`, checked to be numeric and finite with at least one example."""
  if not (np.issubdtype(array.dtype, np.number)
          or array.dtype == np.bool_) or np.iscomplexobj(array):
    raise ArrayFileError(
        f"{path} holds {array.dtype} values; expected numbers.")
  if array.ndim == 0 or len(array) == 0:
    raise ArrayFileError(f"{path} holds no examples (shape {array.shape}).")
  if np.issubdtype(array.dtype, np.floating):
    bad = ~np.isfinite(array.reshape(len(array), -1)).all(axis=1)
    if bad.any():
      raise ArrayFileError(
          f"{path} has NaN or infinite values in {int(bad.sum())} "
          f"example(s), first at index {int(np.argmax(bad))}.")
  return array


def read_array(path: str, npz_key: str = "") -> np.ndarray:
  """The array stored in path (.npy, .npz or IDX images): numeric, finite,
  with at least one example. npz_key: the array of an .npz (default 'x',
  or its only array)."""
  check_file(path)
  if path.endswith(".npy"):
    array = load_numpy(path)[""]
  elif path.endswith(".npz"):
    array = _choose_npz_array(path, load_numpy(path), npz_key)
  else:
    array = _load_idx(path)
  return check_examples(array, path)
