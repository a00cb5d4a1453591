"""Small file helpers: atomic writes, JSON-lines metrics, TensorBoard events."""

import json
import math
import os
import secrets
import time
from typing import Any, Optional

from absl import logging
import numpy as np

from ssvae import errors


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
  """The JSON value in `path`; WorkdirError naming the file if it is not
  JSON (e.g. a hand edit gone wrong)."""
  with open(path) as f:
    try:
      return json.load(f)
    except ValueError as e:
      raise errors.WorkdirError(
          f"{path} is not valid JSON ({e}); fix or restore it.") from e


def read_records(path: str) -> list[tuple[str, dict]]:
  """(line, record) for every JSON line of a records file (metrics.jsonl).

  A kill during a write leaves the last line cut short: it is dropped with
  a warning. Any other line that is not a JSON record with a "step" is a
  WorkdirError naming the file and line.
  """
  with open(path) as f:
    lines = f.read().splitlines()
  records = []
  for number, line in enumerate(lines, start=1):
    if not line.strip():
      continue
    try:
      record = json.loads(line)
      record["step"]  # pylint: disable=pointless-statement
    except (ValueError, TypeError, KeyError) as e:
      if number == len(lines):
        logging.warning("%s line %d is incomplete (a run stopped while "
                        "writing it); dropping it.", path, number)
        continue
      raise errors.WorkdirError(
          f"{path} line {number} is not a metrics record ({e}); fix or "
          "delete that line.") from e
    records.append((line, record))
  return records


# Fields of a metrics record that say where it belongs; the rest are scalars.
RECORD_KEYS = ("step", "split", "seed")


class TensorBoardWriter:
  """Metrics records as TensorBoard scalars, without TensorFlow (tensorboardX).

  One TensorBoard run per seed and split, `logdir/seed_<seed>/<split>`, so
  TensorBoard draws train, validation and test of a metric in one chart.
  purge_step: on resume, the first step to be rewritten; TensorBoard then
  drops the earlier files' events from that step on (as _truncate_metrics
  does for metrics.jsonl).
  """

  def __init__(self, logdir: str, purge_step: Optional[int] = None):
    self._logdir = logdir
    self._purge_step = purge_step
    self._writers = {}

  def _writer(self, seed, split: str):
    key = (seed, split)
    if key not in self._writers:
      # Imported here: only runs that write event files need it.
      import tensorboardX  # pylint: disable=g-import-not-at-top
      # tensorboardX names files by the second; the nanosecond suffix keeps
      # a resumed run's file from overwriting one opened in the same second
      # and sorts it after that one, as TensorBoard reads files in name order.
      self._writers[key] = tensorboardX.SummaryWriter(
          os.path.join(self._logdir, f"seed_{seed}", split),
          purge_step=self._purge_step, filename_suffix=f".{time.time_ns()}")
    return self._writers[key]

  def write(self, record: dict) -> None:
    writer = self._writer(record["seed"], record["split"])
    for name, value in record.items():
      if name not in RECORD_KEYS:
        writer.add_scalar(name, float(value), global_step=record["step"])

  def close(self) -> None:
    """Closes every writer, even when one fails (a full disk: its events
    cannot be flushed); then raises the first failure."""
    failure = None
    for writer in self._writers.values():
      try:
        writer.close()
      except OSError as e:
        failure = failure or e
        _abandon(writer)
    self._writers = {}
    if failure is not None:
      raise failure

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()


def write_hparams(logdir: str, hparams: dict, metrics: dict) -> None:
  """One TensorBoard HParams session in `logdir`: `hparams` (values bool,
  str, int or float) and the `metrics` it reached ({tag: float}), so
  TensorBoard's HParams dashboard compares the sessions of one parent
  logdir (a sweep's cells) as a table."""
  # Imported here: only sweeps write HParams sessions.
  import tensorboardX  # pylint: disable=g-import-not-at-top
  from tensorboardX import summary  # pylint: disable=g-import-not-at-top
  experiment, start, end = summary.hparams(hparams, metrics)
  with tensorboardX.SummaryWriter(logdir) as writer:
    for event in (experiment, start, end):
      writer.file_writer.add_summary(event)
    for tag, value in metrics.items():
      writer.add_scalar(tag, value, 0)


def _abandon(summary_writer) -> None:
  """Stops a tensorboardX writer whose close failed, without writing more:
  its thread ends and it counts as closed, so tensorboardX's exit hook does
  not flush it again (another traceback at exit, on a full disk)."""
  for file_writer in getattr(summary_writer, "all_writers", {}).values():
    events = getattr(file_writer, "event_writer", None)
    if events is None or getattr(events, "_closed", True):
      continue
    worker = getattr(events, "_worker", None)
    if worker is not None:
      worker.stop()
    events._closed = True  # pylint: disable=protected-access


class MetricsWriter:
  """Appends one JSON object per line to `path`; optionally the same records
  as TensorBoard scalars under `tensorboard_dir` (see TensorBoardWriter).

  Records hold "step", "split", "seed" and scalar metric values.
  """

  def __init__(self, path: str, tensorboard_dir: Optional[str] = None,
               purge_step: Optional[int] = None):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    self._file = open(path, "a")
    self._tensorboard = (None if tensorboard_dir is None
                         else TensorBoardWriter(tensorboard_dir, purge_step))

  def write(self, record: dict) -> None:
    self._file.write(json.dumps(_to_jsonable(record)) + "\n")
    self._file.flush()
    if self._tensorboard is not None:
      self._tensorboard.write(record)

  def close(self) -> None:
    try:
      self._file.close()
    finally:
      if self._tensorboard is not None:
        self._tensorboard.close()

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()


def is_int(value: Any) -> bool:
  """An int, not a bool: what a JSON integer field may hold once read."""
  return isinstance(value, int) and not isinstance(value, bool)


def is_finite_number(value: Any) -> bool:
  """A finite int or float, not a bool (nor a string from a JSON file)."""
  return (isinstance(value, (int, float)) and not isinstance(value, bool)
          and math.isfinite(value))


def read_json_string(text: str) -> Any:
  return json.loads(text)
