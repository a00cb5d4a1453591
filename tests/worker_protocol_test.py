"""Tests for benchmarks/worker_protocol.py (the timing workers' protocol)."""

import io
import sys

import pytest

from benchmarks import worker_protocol


def test_serve_announces_then_answers_until_quit(monkeypatch, capsys):
  calls = []
  def run(steps):
    calls.append(steps)
    return 0.5
  monkeypatch.setattr(sys, "stdin", io.StringIO(
      "time a 3\n\ntime a 7\nquit\ntime a 9\n"))
  worker_protocol.serve({"a": (run, 1.23)}, "flags X")
  # Library logging between the messages is skipped by receive.
  out = io.StringIO("some log line\n" + capsys.readouterr().out)
  assert worker_protocol.receive(out) == {
      "ready": True, "about": "flags X", "compile_s": {"a": 1.2},
      "modes": ["a"]}
  assert worker_protocol.receive(out) == {"mode": "a",
                                          "seconds_per_step": 0.5}
  assert calls == [3]  # the empty line ends the session, like quit


def test_receive_names_a_worker_that_exited():
  with pytest.raises(RuntimeError, match="exited before answering"):
    worker_protocol.receive(io.StringIO("a log line\n"))
