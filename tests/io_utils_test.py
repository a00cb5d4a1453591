"""Tests for ssvae.io_utils: atomic writes with the usual file mode."""

import os
import stat

import pytest

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
