"""The error boundary every entry point runs behind (experiments/, benchmarks/).

`cli.run(main)` replaces `app.run(main)`. A problem with what the user gave
(an errors.UserInputError from the library, a bad flag or --config) is
printed as ONE line, `error: <message>`, on stderr and ends the program
with status 2. Any other exception is a bug and keeps its traceback.
--traceback (or absl's --pdb, which also starts the debugger) shows the
traceback of a user error too.

A full disk (OSError ENOSPC, or the same error as tensorstore reports it
while orbax saves a checkpoint) is one line too, `error: no space left on
<path>`, status 2: every checkpoint already saved is kept, and the same
command resumes once there is space. A --config file with a syntax error is
one line naming its file and line; any other failure of a config file (a
get_config() that raises) is code and keeps its traceback.

`config_from_flag` reads a --config flag and checks that it holds the kind
of config the entry point runs, naming the right entry point otherwise.
`config_and_workdir_flags` and `multihost_flags` define the flags several
entry points take.
"""

import errno
import functools
import logging as std_logging
import os
import re
import sys
import threading
from typing import Callable, Iterator, NamedTuple, Optional

from absl import app
from absl import flags
from absl import logging
import jax
import ml_collections
from ml_collections import config_flags

from ssvae import errors

EXIT_USER_ERROR = 2

_TRACEBACK = flags.DEFINE_bool(
    "traceback", False, "Show the full traceback of an input error instead "
    "of its one-line message (absl's --pdb also starts the debugger).")

# Which entry point runs which kind of config.
ENTRY_POINTS = {"experiment": "python -m experiments.train",
                "sweep": "python -m experiments.sweep",
                "feedback": "python -m experiments.feedback"}
_TRACEBACK_FLAGS = ("traceback", "pdb", "pdb_post_mortem")


def one_line(message: str) -> str:
  """The message's lines joined into one."""
  return " ".join(line.strip() for line in str(message).splitlines()
                  if line.strip())


def _exit_with_error(message: str) -> None:
  sys.stderr.write(f"error: {one_line(message)}\n")
  sys.stderr.flush()
  sys.exit(EXIT_USER_ERROR)


def _traceback_in(argv: list[str]) -> bool:
  """Whether argv asks for tracebacks (--traceback, --pdb, ...=true)."""
  for arg in argv[1:]:
    name, _, value = arg.lstrip("-").partition("=")
    if (arg.startswith("-") and name in _TRACEBACK_FLAGS
        and value.lower() not in ("false", "0")):
      return True
  return False


def _chain(error: BaseException) -> Iterator[BaseException]:
  """error, then its cause (or context), and so on: outermost first."""
  seen = set()
  while error is not None and id(error) not in seen:
    seen.add(id(error))
    yield error
    error = error.__cause__ or error.__context__


# How tensorstore (orbax's checkpoint writer) words ENOSPC, e.g. 'Failed
# writing: "<file>": Failed to write 437227 bytes to file 25: No space left
# on device [os_error_code='28']'.
_NO_SPACE_TEXT = re.compile(
    rf"No space left on device|os_error_code='{errno.ENOSPC}'")
_WRITTEN_PATH = re.compile(r'(?:Failed writing:|local file) "([^"]+)"')


def _no_space_path(error: BaseException, workdir: Optional[str]
                   ) -> Optional[str]:
  """The path a full disk refused (the workdir, or "the disk", when the
  error names none), if error or what caused it is ENOSPC; else None."""
  for e in _chain(error):
    if isinstance(e, OSError) and e.errno == errno.ENOSPC:
      return e.filename or workdir or "the disk"
    if _NO_SPACE_TEXT.search(str(e)):
      written = _WRITTEN_PATH.search(str(e))
      return written.group(1) if written else workdir or "the disk"
  return None


def no_space_message(error: BaseException,
                     workdir: Optional[str] = None) -> Optional[str]:
  """The one-line message of a full disk, or None for another error."""
  path = _no_space_path(error, workdir)
  if path is None:
    return None
  return (f"no space left on {path}; free some space there (or copy the "
          "workdir to a roomier disk) and run the same command again: it "
          "resumes from its last saved checkpoint, which is kept.")


class _NoSpaceTracebacks(std_logging.Filter):
  """Drops the traceback from log records of a full disk (orbax's threads
  log each failed write with one); the record's own line stays, and the
  error boundary reports the problem once."""

  def filter(self, record: std_logging.LogRecord) -> bool:
    if record.exc_info and _no_space_path(record.exc_info[1], None):
      record.exc_info, record.exc_text = None, None
    return True


_NO_SPACE_FILTER = _NoSpaceTracebacks()


# Libraries whose INFO lines an entry point's log leaves out (orbax logs
# every save and restore); their warnings and errors stay.
_QUIET_LIBRARIES = ("/orbax/", "/etils/", "/tensorflow_datasets/")


class _DropLibraryInfo(std_logging.Filter):
  """Drops INFO records of _QUIET_LIBRARIES."""

  def filter(self, record: std_logging.LogRecord) -> bool:
    return record.levelno >= std_logging.WARNING or not any(
        lib in record.pathname for lib in _QUIET_LIBRARIES)


def setup_logging() -> None:
  """INFO logs of ours, not every library's: for entry points whose log is
  a training log (train, sweep, detect, feedback)."""
  logging.set_verbosity(logging.INFO)
  logging.get_absl_handler().addFilter(_DropLibraryInfo())


def quiet_info_logs() -> None:
  """Log warnings and errors only, unless --verbosity (or -v) was given:
  for commands whose output is their result (the paths they wrote), where
  the libraries' INFO lines (orbax's restore steps) are noise."""
  if not flags.FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)


def _workdir_flag() -> Optional[str]:
  return flags.FLAGS["workdir"].value if "workdir" in flags.FLAGS else None


def _config_syntax_error(chain: list[BaseException],
                         argv: list[str]) -> Optional[str]:
  """The message for a config file (a flag's value) that does not parse;
  None when the syntax error is in another file (code it imports)."""
  syntax = [e for e in chain if isinstance(e, SyntaxError) and e.filename]
  if not syntax:
    return None
  error = syntax[-1]
  for arg in argv[1:]:
    name, has_value, value = arg.lstrip("-").partition("=")
    path = value.split(":", 1)[0]  # config_flags' path:parameter
    if (arg.startswith("-") and has_value and os.path.isfile(path)
        and os.path.isfile(error.filename)
        and os.path.samefile(path, error.filename)):
      text = (error.text or "").strip()
      return (f"{path} line {error.lineno} (--{name}): "
              f"{type(error).__name__}: {error.msg}"
              + (f" in {text!r}" if text else ""))
  return None


def _unknown_config_field(chain: list[BaseException],
                          argv: list[str]) -> Optional[str]:
  """The message for a --config.<path> override naming no field.

  ml_collections raises KeyError(field), re-raised with a "Did you mean"
  hint, then AttributeError, while it parses the flags.
  """
  key_errors = [e for e in chain if isinstance(e, KeyError) and e.args]
  if not key_errors:
    return None
  missing = str(key_errors[-1].args[0])
  overrides = [arg.split("=", 1)[0].lstrip("-") for arg in argv
               if re.match(r"--?config\.", arg)]
  culprit = next((o for o in overrides if missing in o.split(".")), None)
  if culprit is None:
    return None
  hint = re.search(r'Did you mean "([^"]+)"',
                   " ".join(str(e.args[0]) for e in key_errors))
  return (f"--{culprit}: the config has no field {missing!r}"
          + (f'; did you mean "{hint.group(1)}"?' if hint else "."))


def flag_error_message(error: BaseException,
                       argv: list[str]) -> Optional[str]:
  """What went wrong while parsing argv, or None for a bug (a traceback)."""
  chain = list(_chain(error))
  user_errors = [e for e in chain if errors.is_user_input(e)]
  if user_errors:  # The innermost: config_flags re-raises it with a traceback.
    return str(user_errors[-1])
  syntax = _config_syntax_error(chain, argv)
  if syntax is not None:
    return syntax
  if any(str(e).startswith("Error whilst parsing config file") for e in chain):
    return None  # A bug in a config file's get_config(): show where.
  unknown = _unknown_config_field(chain, argv)
  if unknown is not None:
    return unknown
  if isinstance(error, flags.Error):
    return str(error)
  return None


def _parse_flags(argv: list[str]) -> list[str]:
  """absl's flag parsing, with input errors reported as one line."""
  try:
    return flags.FLAGS(argv)
  except Exception as error:  # pylint: disable=broad-except
    message = flag_error_message(error, argv)
    if message is None or _traceback_in(argv):
      raise
    _exit_with_error(message)


def _guarded(main: Callable) -> Callable:
  """main, with user errors reported as one line."""
  @functools.wraps(main)
  def guarded(argv):
    for handler in std_logging.getLogger().handlers:  # absl's, once parsed
      handler.addFilter(_NO_SPACE_FILTER)
    try:
      if len(argv) > 1:  # no entry point takes positional arguments
        raise errors.UserInputError(f"Unexpected arguments: {argv[1:]}")
      return main(argv)
    except Exception as error:  # pylint: disable=broad-except
      if _TRACEBACK.value or flags.FLAGS.pdb_post_mortem:
        raise
      full_disk = no_space_message(error, _workdir_flag())
      if full_disk is not None:
        _exit_with_error(full_disk)
      if not (errors.is_user_input(error)
              or isinstance(error, app.UsageError)):
        raise
      _exit_with_error(str(error))
  return guarded


def config_and_workdir_flags(config_help: str, workdir_help: str) -> tuple:
  """Defines the required --config (a config file, lock_config) and
  --workdir flags of the config-driven entry points; returns both."""
  config = config_flags.DEFINE_config_file("config", None, config_help,
                                           lock_config=True)
  workdir = flags.DEFINE_string("workdir", None, workdir_help)
  flags.mark_flags_as_required(["config", "workdir"])
  return config, workdir


class Multihost(NamedTuple):
  """The flags of a job that spans several hosts (multihost_flags)."""
  multihost: flags.FlagHolder
  coordinator_address: flags.FlagHolder
  num_processes: flags.FlagHolder
  process_id: flags.FlagHolder
  initialization_timeout: flags.FlagHolder

  def initialize(self) -> None:
    """With --multihost, jax.distributed.initialize() from the flags (None:
    jax detects the value, e.g. on Cloud TPU pods and SLURM). Call it
    before anything else uses jax."""
    if self.multihost.value:
      if jax.config.jax_platforms in (None, "", "cpu") or str(
          jax.config.jax_platforms).startswith("cpu"):
        # CPU processes exchange arrays through gloo (the default, none,
        # fails at the first cross-process computation).
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
      timeout = self.initialization_timeout.value
      message = (
          f"--multihost: not every process joined the job at "
          f"--coordinator_address={self.coordinator_address.value} within "
          f"--initialization_timeout={timeout} s (--num_processes="
          f"{self.num_processes.value}, this is --process_id="
          f"{self.process_id.value}); start the same command on every "
          "process, each with its own --process_id, all naming process 0's "
          "host:port.")
      # jax's own timeout aborts the process from C++ (a fatal 'DEADLINE_
      # EXCEEDED' and a core dump, nothing Python can catch), so a watchdog
      # ends it first with the one-line error; jax's deadline is later.
      joined = threading.Event()

      def give_up():
        if not joined.is_set():
          sys.stderr.write(f"error: {one_line(message)}\n")
          sys.stderr.flush()
          os._exit(EXIT_USER_ERROR)  # pylint: disable=protected-access

      watchdog = threading.Timer(timeout, give_up)
      watchdog.daemon = True
      watchdog.start()
      try:
        jax.distributed.initialize(
            coordinator_address=self.coordinator_address.value,
            num_processes=self.num_processes.value,
            process_id=self.process_id.value,
            initialization_timeout=2 * timeout + 30)
      except Exception as error:  # pylint: disable=broad-except
        if not re.search(r"DEADLINE_EXCEEDED|UNAVAILABLE", str(error)):
          raise
        raise errors.UserInputError(message) from error
      finally:
        joined.set()
        watchdog.cancel()


def multihost_flags() -> Multihost:
  """Defines --multihost, --coordinator_address, --num_processes,
  --process_id and --initialization_timeout, for an entry point whose work
  can span several hosts.

  absl counts them as this module's flags; an entry point that wants them
  in its --help declares each with flags.declare_key_flag.
  """
  return Multihost(
      flags.DEFINE_bool("multihost", False, "Call "
                        "jax.distributed.initialize() first."),
      flags.DEFINE_string("coordinator_address", None, "host:port of "
                          "process 0 (multi-host; None = detect)."),
      flags.DEFINE_integer("num_processes", None, "Processes in the job "
                           "(multi-host; None = detect)."),
      flags.DEFINE_integer("process_id", None, "This process's index "
                           "(multi-host; None = detect)."),
      flags.DEFINE_integer("initialization_timeout", 300, "Seconds to wait "
                           "for every process to join (multi-host), then "
                           "stop with an error.", lower_bound=1))


def run(main: Callable) -> None:
  """app.run(main) behind the error boundary: a positional argument, or an
  errors.UserInputError from main, is one line `error: ...` (status 2)."""
  app.run(_guarded(main), flags_parser=_parse_flags)


def _with_article(word: str) -> str:
  return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def config_kind(config) -> str:
  """'experiment', 'sweep', 'feedback' or 'unknown'."""
  fields = set(config.keys())
  if {"base", "axes"} <= fields:
    return "sweep"
  if {"data", "model", "train"} <= fields:
    return "feedback" if "feedback" in fields else "experiment"
  return "unknown"


def config_from_flag(holder: flags.FlagHolder,
                     kinds: tuple[str, ...]) -> ml_collections.ConfigDict:
  """The config a config_flags flag loaded, which must be one of `kinds`.

  Raises ConfigError when its file could not be loaded or it is another
  kind of config (the message names the entry point that runs it).
  """
  path = config_flags.get_config_filename(flags.FLAGS[holder.name])
  try:
    config = holder.value
    kind = config_kind(config)
  except OSError as e:  # config_flags defers a failed load to first use.
    reason = ("no such file" if not os.path.isfile(path)
              else one_line(e.__cause__ or e))
    raise errors.ConfigError(f"--{holder.name}={path}: {reason}.") from e
  if kind in kinds:
    return config
  wanted = " or ".join(_with_article(k) for k in kinds)
  if kind == "unknown":
    raise errors.ConfigError(
        f"--{holder.name}={path} is not an experiment, sweep or feedback "
        f"config (its fields: {', '.join(sorted(config.keys()))}); this "
        f"command takes {wanted} config.")
  raise errors.ConfigError(
      f"--{holder.name}={path} is {_with_article(kind)} config; run it with "
      f"{ENTRY_POINTS[kind]} (this command takes {wanted} config).")
