"""For entry points: logging (our INFO lines, not every library's) and how
a diverged run ends the program."""

import contextlib
import logging as std_logging
import sys

from absl import logging

_QUIET_LIBRARIES = ("/orbax/", "/etils/", "/tensorflow_datasets/")


class _DropLibraryInfo(std_logging.Filter):
  """Drops INFO records from chatty libraries (orbax logs every save)."""

  def filter(self, record: std_logging.LogRecord) -> bool:
    return record.levelno >= std_logging.WARNING or not any(
        lib in record.pathname for lib in _QUIET_LIBRARIES)


def setup() -> None:
  logging.set_verbosity(logging.INFO)
  logging.get_absl_handler().addFilter(_DropLibraryInfo())


@contextlib.contextmanager
def exit_on_divergence():
  """Ends the program with a diverged run's message (it names the run, the
  step and the kept checkpoint) instead of a traceback."""
  try:
    yield
  except FloatingPointError as e:
    sys.exit(f"Training diverged. {e}")
