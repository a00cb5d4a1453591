"""Small file helpers: atomic writes and JSON-lines metrics."""

import json
import os
import secrets
from typing import Any

import numpy as np


def _to_jsonable(value: Any) -> Any:
  if isinstance(value, dict):
    return {str(k): _to_jsonable(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [_to_jsonable(v) for v in value]
  if hasattr(value, "tolist"):  # numpy and jax arrays, numpy scalars
    return _to_jsonable(np.asarray(value).tolist())
  if isinstance(value, float) and not np.isfinite(value):
    return str(value)
  return value


def new_temp_file(directory: str, suffix: str = "") -> tuple[int, str]:
  """Creates a new hidden file in `directory`; returns (fd, path).

  Its mode is 0666 less the umask, as for any file open() creates (so
  config.json, results.json and metrics.jsonl share one mode), unlike
  tempfile.mkstemp's 0600.
  """
  while True:
    path = os.path.join(directory, f".tmp_{secrets.token_hex(8)}{suffix}")
    try:
      return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), path
    except FileExistsError:
      continue


def atomic_write_text(path: str, text: str) -> None:
  """Writes via a temporary file and rename: a kill never leaves half a file."""
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = new_temp_file(directory)
  try:
    with os.fdopen(fd, "w") as f:
      f.write(text)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def write_json(path: str, value: Any) -> None:
  atomic_write_text(path, json.dumps(_to_jsonable(value), indent=2) + "\n")


def read_json(path: str) -> Any:
  with open(path) as f:
    return json.load(f)


class MetricsWriter:
  """Appends one JSON object per line to `path`."""

  def __init__(self, path: str):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    self._file = open(path, "a")

  def write(self, record: dict) -> None:
    self._file.write(json.dumps(_to_jsonable(record)) + "\n")
    self._file.flush()

  def close(self) -> None:
    self._file.close()

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()


def read_json_string(text: str) -> Any:
  return json.loads(text)
