"""Claiming a workdir: it must be a writable directory used by one process.

`claimed(workdir)` creates the directory if needed and holds the lock file
WORKDIR/.lock (it holds "<pid> <host>") for the duration of the block, so a
second process on the same workdir is refused with a clear message instead
of interleaving its checkpoints and metrics with the first one's. A lock left
behind by a killed process (its pid is gone on this host) is taken over with
a warning. A lock of another host cannot be checked and is respected; the
message says to delete it if that process is gone.
"""

import contextlib
import os
import socket
from typing import Iterator, Optional

from absl import logging

from ssvae import errors
from ssvae import io_utils

LOCK_FILE = ".lock"


def make_directory(workdir: str) -> None:
  """Creates `workdir`; WorkdirError if it is a file or cannot be created."""
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise errors.WorkdirError(f"workdir {workdir} is a file, not a directory.")
  try:
    os.makedirs(workdir, exist_ok=True)
  except OSError as e:
    raise errors.WorkdirError(
        f"cannot create workdir {workdir}: {e.strerror}.") from e


def _owner_text() -> str:
  return f"{os.getpid()} {socket.gethostname()}\n"


def _read_owner(path: str) -> Optional[tuple[int, str]]:
  """(pid, host) from a lock file; None if it is gone or unreadable."""
  try:
    with open(path) as f:
      pid, host = f.read().split()
    return int(pid), host
  except (OSError, ValueError):
    return None


def _is_running(pid: int, host: str) -> bool:
  """Whether the lock's owner may still run (always True on another host)."""
  if host != socket.gethostname():
    return True
  try:
    os.kill(pid, 0)  # Signal 0: only checks that the process exists.
  except ProcessLookupError:
    return False
  except PermissionError:  # It exists, under another user.
    pass
  return True


def _create_lock(path: str) -> bool:
  """Atomically creates the lock file with our pid; False if it exists."""
  fd, tmp = io_utils.new_temp_file(os.path.dirname(path))
  try:
    with os.fdopen(fd, "w") as f:
      f.write(_owner_text())
    os.link(tmp, path)  # Fails if the lock exists; never a half-written lock.
    return True
  except FileExistsError:
    return False
  finally:
    os.remove(tmp)


def acquire(workdir: str, lock_name: str = LOCK_FILE) -> str:
  """Takes WORKDIR/<lock_name> (a stale one is taken over); returns its
  path."""
  path = os.path.join(workdir, lock_name)
  try:
    for _ in range(2):  # Second try: after removing a stale lock.
      if _create_lock(path):
        return path
      owner = _read_owner(path)
      if owner is not None and _is_running(*owner):
        pid, host = owner
        raise errors.WorkdirError(
            f"workdir {workdir} is in use by process {pid} on {host} (lock "
            f"file {path}); wait for it to finish or use another --workdir. "
            "If that process is gone, delete the lock file.")
      logging.warning("Taking over the stale lock %s of %s, which is no "
                      "longer running.", path,
                      "an unknown process" if owner is None
                      else f"process {owner[0]}")
      with contextlib.suppress(FileNotFoundError):
        os.remove(path)
  except OSError as e:
    raise errors.WorkdirError(
        f"cannot write to workdir {workdir}: {e.strerror}.") from e
  raise errors.WorkdirError(
      f"workdir {workdir} was locked by another process while this one "
      "started; use another --workdir.")


def release(path: str) -> None:
  """Removes a lock file taken by `acquire` (if it is still ours)."""
  owner = _read_owner(path)
  if owner is not None and owner[0] == os.getpid():
    with contextlib.suppress(FileNotFoundError):
      os.remove(path)


@contextlib.contextmanager
def claimed(workdir: str, lock: bool = True,
            lock_name: str = LOCK_FILE) -> Iterator[None]:
  """Creates `workdir` and holds its lock file `lock_name` for the block.

  lock=False (the non-writing processes of a multi-host job, which share
  the workdir with process 0) only creates the directory.
  """
  make_directory(workdir)
  if not lock:
    yield
    return
  path = acquire(workdir, lock_name)
  try:
    yield
  finally:
    release(path)
