"""For entry points: logging (our INFO lines, not every library's).

A diverged run ends the program through the error boundary (ssvae.cli):
errors.TrainingDiverged is a user error, printed as one line.
"""

import logging as std_logging

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

