"""The project's exception types: what the user gave, versus a bug.

Everything a user supplies (config values, data files, the workdir's state,
the command line) is checked where it is read, and a problem with it raises a
`UserInputError` (or a subclass) whose message names what is wrong and how to
fix it. The entry points (ssvae.cli) print such an error as one line
`error: <message>` and exit with status 2; any other exception is a bug and
keeps its traceback.

UserInputError subclasses ValueError, so code (and tests) that catch
ValueError for bad arguments keep working; DataNotFoundError is also a
FileNotFoundError for the same reason.

Code that must not import ssvae raises a ValueError subclass with the class
attribute `user_input = True` instead (configs/common.py stays jax-free, and
importing ssvae.errors imports the ssvae package, which imports jax);
`is_user_input` accepts both.
"""


class UserInputError(ValueError):
  """Something the user supplied is wrong; the message says what and where."""


class ConfigError(UserInputError):
  """A config value is invalid; the message names the field."""


class DataError(UserInputError):
  """A data file or directory cannot be used as the config asks."""


class DataNotFoundError(DataError, FileNotFoundError):
  """The data the config names is not where it was looked for."""


class WorkdirError(UserInputError):
  """The workdir cannot be used: busy, unwritable, or holds another run."""


class TrainingDiverged(UserInputError, FloatingPointError):
  """A run reached non-finite values; the message names the kept checkpoint.

  A user error in the sense that the config's hyperparameters (usually the
  learning rate) cause it; the fix is a new config and a new workdir.
  step and seed name where it happened, when known (a sweep records them).
  """

  def __init__(self, message: str, *, step=None, seed=None):
    super().__init__(message)
    self.step = step
    self.seed = seed


class RunNotFoundError(WorkdirError, FileNotFoundError):
  """The workdir holds no run to read (no config.json or no checkpoint)."""


def is_user_input(error: BaseException) -> bool:
  """A UserInputError, or an error its class marks `user_input = True`."""
  return (isinstance(error, UserInputError)
          or getattr(type(error), "user_input", False) is True)
