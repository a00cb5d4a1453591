"""Progress of a long loop, readable on a terminal and in a redirected log.

On a terminal (stderr is a TTY) a tqdm bar, redrawn in place. Otherwise one
plain line every `interval_s` seconds, and one at the end, as
clu.periodic_actions.ReportProgress does:

  train run3: step 1200/20000 (6.0%), 5312 examples/s, ETA 0:59:12

so a log file shows where a run is without carriage returns. train, sweep
and detect all report through `Progress`.
"""

import datetime
import sys
import time
from typing import Callable, Optional, TextIO

import tqdm

INTERVAL_S = 30.0  # between plain lines in a redirected log


def _is_terminal(stream: TextIO) -> bool:
  try:
    return stream.isatty()
  except (AttributeError, ValueError):  # closed or not a file
    return False


def format_eta(seconds: float) -> str:
  return str(datetime.timedelta(seconds=round(max(seconds, 0.0))))


class Progress:
  """Counts `unit`s from `initial` to `total` (update(n)); a context manager.

  examples_per_unit: with it, the line shows examples/s (a train step is
  batch_size examples). stream: where it writes (stderr); clock: for tests.
  """

  def __init__(self, total: int, *, desc: str, unit: str, initial: int = 0,
               examples_per_unit: Optional[int] = None,
               interval_s: float = INTERVAL_S, stream: TextIO = None,
               clock: Callable[[], float] = time.monotonic):
    self.total, self.desc, self.unit = total, desc, unit
    self.count = initial
    self._examples_per_unit = examples_per_unit
    self._interval_s, self._clock = interval_s, clock
    self._stream = sys.stderr if stream is None else stream
    self._last = clock()
    self._last_count = initial
    self._postfix = ""
    self._bar = (tqdm.tqdm(total=total, initial=initial, desc=desc,
                           unit=unit, mininterval=2.0, file=self._stream)
                 if _is_terminal(self._stream) else None)

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()

  def line(self) -> str:
    """The plain progress line: the count, and the rate since the last
    line (as ReportProgress: a compile at the start does not linger)."""
    elapsed = max(self._clock() - self._last, 1e-9)
    done = self.count - self._last_count
    rate = done / elapsed
    parts = [f"{self.desc}: {self.unit} {self.count}/{self.total} "
             f"({100.0 * self.count / max(self.total, 1):.1f}%)"]
    if self._examples_per_unit:
      parts.append(f"{rate * self._examples_per_unit:.0f} examples/s")
    else:
      parts.append(f"{rate:.3g} {self.unit}s/s")
    if done and self.count < self.total:
      parts.append(f"ETA {format_eta((self.total - self.count) / rate)}")
    if self._postfix:
      parts.append(self._postfix)
    return ", ".join(parts)

  def update(self, n: int = 1) -> None:
    self.count += n
    if self._bar is not None:
      self._bar.update(n)
      return
    if self._clock() - self._last >= self._interval_s:
      self._report()

  def set_postfix(self, **values) -> None:
    """Shown after the counts (e.g. loss=0.123)."""
    self._postfix = ", ".join(f"{k}={v}" for k, v in values.items())
    if self._bar is not None:
      self._bar.set_postfix(values)

  def write(self, message: str) -> None:
    """A message to stdout (a result, not progress) that does not break
    the bar."""
    if self._bar is not None:
      self._bar.write(message, file=sys.stdout)
    else:
      print(message, flush=True)

  def close(self) -> None:
    if self._bar is not None:
      self._bar.close()
      self._bar = None
    elif self.count > self._last_count:
      self._report()  # a second close() prints nothing

  def _report(self) -> None:
    self._print(self.line())
    self._last, self._last_count = self._clock(), self.count

  def _print(self, text: str) -> None:
    print(text, file=self._stream, flush=True)
