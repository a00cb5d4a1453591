"""Tests for ssvae.progress: plain lines in a redirected log, a bar on a TTY."""

import io

from ssvae import progress


class FakeClock:
  def __init__(self):
    self.now = 0.0

  def __call__(self):
    return self.now


def test_redirected_log_gets_one_line_per_interval_and_one_at_the_end():
  stream, clock = io.StringIO(), FakeClock()
  with progress.Progress(1000, desc="train run", unit="step", initial=100,
                         examples_per_unit=256, interval_s=30, stream=stream,
                         clock=clock) as bar:
    for _ in range(9):  # 9 updates of 100 steps, 10 s apart
      clock.now += 10
      bar.update(100)
      bar.set_postfix(loss="1.5")
  lines = stream.getvalue().splitlines()
  assert "\r" not in stream.getvalue()
  assert len(lines) == 3  # at 30, 60 and 90 s; close() adds no duplicate
  assert lines[0] == ("train run: step 400/1000 (40.0%), 2560 examples/s, "
                      "ETA 0:01:00, loss=1.5")
  assert lines[-1].startswith("train run: step 1000/1000 (100.0%)")
  assert "ETA" not in lines[-1]


def test_rate_is_since_the_last_line_so_a_slow_start_does_not_linger():
  stream, clock = io.StringIO(), FakeClock()
  with progress.Progress(300, desc="d", unit="step", interval_s=30,
                         stream=stream, clock=clock) as bar:
    clock.now = 60  # a compile: 100 steps in 60 s
    bar.update(100)
    clock.now = 90  # then 100 steps in 30 s
    bar.update(100)
    clock.now = 95
    bar.update(100)  # under the interval: only close() reports it
  lines = stream.getvalue().splitlines()
  assert [line.split(", ")[1] for line in lines] == [
      "1.67 steps/s", "3.33 steps/s", "20 steps/s"]


def test_a_terminal_gets_a_bar_not_lines():
  class Terminal(io.StringIO):
    def isatty(self):
      return True
  stream = Terminal()
  with progress.Progress(10, desc="d", unit="step", stream=stream,
                         interval_s=0) as bar:
    bar.update(10)
  assert "\r" in stream.getvalue() and "10/10" in stream.getvalue()


def test_eta_format():
  assert progress.format_eta(3725.4) == "1:02:05"
