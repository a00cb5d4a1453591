"""Tests for ssvae.io_utils: atomic writes with the usual file mode,
metrics.jsonl and TensorBoard event files."""

import json
import os
import stat

import pytest
from tensorboard.backend.event_processing import event_accumulator

from ssvae import io_utils


@pytest.fixture
def umask_027():
  old = os.umask(0o027)
  yield
  os.umask(old)


def mode(path):
  return stat.S_IMODE(os.stat(path).st_mode)


def test_every_output_file_gets_the_mode_the_umask_gives(tmp_path, umask_027):
  io_utils.atomic_write_text(str(tmp_path / "config.json"), "{}\n")
  io_utils.write_json(str(tmp_path / "results.json"), {"a": 1})
  with io_utils.MetricsWriter(str(tmp_path / "metrics.jsonl")) as writer:
    writer.write({"step": 1})
  for name in ("config.json", "results.json", "metrics.jsonl"):
    assert mode(tmp_path / name) == 0o640, name


def test_atomic_write_replaces_and_leaves_no_temporary_file(tmp_path):
  path = tmp_path / "a.txt"
  io_utils.atomic_write_text(str(path), "one")
  io_utils.atomic_write_text(str(path), "two")
  assert path.read_text() == "two"
  assert os.listdir(tmp_path) == ["a.txt"]
def read_scalars(run_dir: str) -> dict:
  """{tag: [(step, value), ...]} read back with TensorBoard's own reader."""
  accumulator = event_accumulator.EventAccumulator(run_dir)
  accumulator.Reload()
  return {tag: [(e.step, e.value) for e in accumulator.Scalars(tag)]
          for tag in accumulator.Tags()["scalars"]}


def test_metrics_writer_writes_jsonl_and_tensorboard_runs(tmp_path):
  records = [{"step": 5, "split": "train", "seed": 0, "loss": 2.5},
             {"step": 5, "split": "train", "seed": 1, "loss": 3.5},
             {"step": 10, "split": "train", "seed": 0, "loss": 1.5},
             {"step": 10, "split": "validation", "seed": 0, "accuracy": 0.75}]
  logdir = str(tmp_path / "tb")
  with io_utils.MetricsWriter(str(tmp_path / "metrics.jsonl"),
                              logdir) as writer:
    for record in records:
      writer.write(record)
  lines = [json.loads(l) for l in open(tmp_path / "metrics.jsonl")]
  assert lines == records
  assert sorted(os.listdir(logdir)) == ["seed_0", "seed_1"]
  assert read_scalars(os.path.join(logdir, "seed_0", "train")) == {
      "loss": [(5, 2.5), (10, 1.5)]}
  assert read_scalars(os.path.join(logdir, "seed_1", "train")) == {
      "loss": [(5, 3.5)]}
  assert read_scalars(os.path.join(logdir, "seed_0", "validation")) == {
      "accuracy": [(10, 0.75)]}


def test_purge_step_makes_tensorboard_drop_the_rewritten_steps(tmp_path):
  """A resumed run rewrites the steps after its checkpoint: readers must
  see each step once, with the new value."""
  logdir = str(tmp_path)
  with io_utils.TensorBoardWriter(logdir) as writer:
    for step in (1, 2, 3):
      writer.write({"step": step, "split": "train", "seed": 0,
                    "loss": float(step)})
  with io_utils.TensorBoardWriter(logdir, purge_step=3) as writer:
    for step in (3, 4):
      writer.write({"step": step, "split": "train", "seed": 0,
                    "loss": 10.0 * step})
  assert read_scalars(os.path.join(logdir, "seed_0", "train")) == {
      "loss": [(1, 1.0), (2, 2.0), (3, 30.0), (4, 40.0)]}


def test_without_a_tensorboard_dir_only_jsonl_is_written(tmp_path):
  with io_utils.MetricsWriter(str(tmp_path / "m.jsonl")) as writer:
    writer.write({"step": 1, "split": "train", "seed": 0, "loss": 1.0})
  assert os.listdir(tmp_path) == ["m.jsonl"]


def test_json_number_checks_refuse_bools_strings_and_non_finite():
  assert io_utils.is_int(3) and io_utils.is_int(-1)
  assert not any(io_utils.is_int(v) for v in (True, 3.0, "3", None))
  assert io_utils.is_finite_number(3) and io_utils.is_finite_number(0.5)
  assert not any(io_utils.is_finite_number(v) for v in (
      False, "0.5", float("nan"), float("inf"), None))
