"""Tests for ssvae.workdir: one process per workdir, stale locks taken over."""

import os
import socket
import subprocess

import pytest

from ssvae import errors
from ssvae import workdir


def lock_path(directory):
  return directory / workdir.LOCK_FILE


def write_lock(directory, pid, host=None):
  lock_path(directory).write_text(f"{pid} {host or socket.gethostname()}\n")


def a_dead_pid():
  proc = subprocess.Popen(["true"])
  proc.wait()
  return proc.pid


def test_lock_holds_the_pid_and_is_released(tmp_path):
  run = tmp_path / "run"
  with workdir.claimed(str(run)):
    assert lock_path(run).read_text().split() == [str(os.getpid()),
                                                  socket.gethostname()]
  assert not lock_path(run).exists()


def test_lock_is_released_when_the_block_fails(tmp_path):
  with pytest.raises(KeyError):
    with workdir.claimed(str(tmp_path)):
      raise KeyError("boom")
  assert not lock_path(tmp_path).exists()


def test_a_live_lock_refuses_a_second_claim(tmp_path):
  with workdir.claimed(str(tmp_path)):
    with pytest.raises(errors.WorkdirError,
                       match=rf"in use by process {os.getpid()} "):
      with workdir.claimed(str(tmp_path)):
        pass
    assert lock_path(tmp_path).exists()  # the first claim keeps its lock


def test_a_lock_of_another_host_is_respected(tmp_path):
  write_lock(tmp_path, a_dead_pid(), host="another-host")
  with pytest.raises(errors.WorkdirError, match="another-host"):
    workdir.acquire(str(tmp_path))


@pytest.mark.parametrize("content", ["dead", "", "garbage"])
def test_a_stale_lock_is_taken_over(tmp_path, content):
  if content == "dead":
    write_lock(tmp_path, a_dead_pid())
  else:
    lock_path(tmp_path).write_text(content)
  with workdir.claimed(str(tmp_path)):
    assert lock_path(tmp_path).read_text().split()[0] == str(os.getpid())
  assert not lock_path(tmp_path).exists()


def test_workdir_that_is_a_file(tmp_path):
  path = tmp_path / "file"
  path.write_text("x")
  with pytest.raises(errors.WorkdirError, match="is a file, not a directory"):
    with workdir.claimed(str(path)):
      pass


def test_no_lock_for_the_processes_that_do_not_write(tmp_path):
  with workdir.claimed(str(tmp_path / "run"), lock=False):
    assert os.listdir(tmp_path / "run") == []
