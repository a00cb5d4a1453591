r"""Where a convolutional training step's time goes on XLA:CPU, by op kind.

  python -m benchmarks.profile_step --family=cnn [--mode=chunk] [--steps=12]
  Smoke run (tests/benchmarks_test.py):
  python -m benchmarks.profile_step --steps=1 --conv_batch_size=2 \
      --conv_steps_per_call=1

Builds the new path of benchmarks/conv_step.py (the library's flags and conv
forms, batch --conv_batch_size), warms it up, records --steps steps with
jax.profiler and reads the trace back. XLA:CPU runs convolutions and library
calls asynchronously: an op's trace has a start event `NAME` and a completion
event `end: NAME`, and its own duration is only the dispatch. So each op's
interval runs from its start to the end of its completion event, and every
instant of the timed window is split evenly among the ops running then
(`breakdown`). Prints ms per step by kind (convolutions, library dots and
reductions, other dots, layout copies and transposes, the remaining fused
elementwise work) and the largest single ops. Run it on a quiet CPU.
The last line is `examples_per_s=<--conv_batch_size / seconds per step
under the profiler> ms_per_step=<the same, in ms>`. conv_step's
--conv_steps_per_call shortens the chunk (it compiles faster; smoke runs).
"""

import collections
import glob
import gzip
import json
import os
import re
import tempfile
from typing import Iterable

from absl import app
from absl import flags
import jax

from benchmarks import conv_step

_FAMILY = flags.DEFINE_enum("family", "cnn", conv_step.FAMILIES,
                            "Which convolutional model's step.")
_MODE = flags.DEFINE_enum("mode", "chunk", ("jit", "chunk"),
                          "A plain jit of one step, or the trainer's chunk.")
_STEPS = flags.DEFINE_integer("steps", 12, "Profiled steps (a chunk runs "
                              "ceil(steps / chunk) times).")
_TOP = flags.DEFINE_integer("top", 12, "How many single ops to list.")

WINDOW = "profile_step.window"  # the TraceAnnotation around the timed steps
END_PREFIX = "end: "
# Host-side events that are not ops of the compiled step.
NOT_OPS = re.compile(r"^\$|ThunkExecutor|^Py|^jit_|PjitFunction|Await|"
                     r"ExecuteHelper|^while$|Threadpool|PjRt|Parse|Allocate|"
                     r"donation|" + re.escape(WINDOW))
KINDS = (("convolution", re.compile(r"^conv(olution|_general)")),
         ("library dot/reduce (YNNPACK)", re.compile(r"^ynn_fusion")),
         ("other dot", re.compile(r"^dot")),
         ("copy/transpose", re.compile(r"^copy|transpose")),
         ("fused elementwise", re.compile(r"")))


def kind_of(op: str) -> str:
  return next(kind for kind, pattern in KINDS if pattern.search(op))


def op_intervals(events: Iterable[dict]) -> list[tuple[float, float, str]]:
  """(start, end, op) of every op, in microseconds. An op with a completion
  event `end: NAME` lasts until that event ends; one without lasts its own
  duration."""
  intervals, open_ops = [], {}  # open_ops: name -> (start, own end)
  for event in sorted(events, key=lambda e: e["ts"]):
    name, start, end = event["name"], event["ts"], event["ts"] + event["dur"]
    if name.startswith(END_PREFIX):
      op = name[len(END_PREFIX):]
      if op in open_ops:
        intervals.append((open_ops.pop(op)[0], end, op))
      continue
    if name in open_ops:  # the previous one had no completion event
      intervals.append((*open_ops.pop(name), name))
    open_ops[name] = (start, end)
  intervals += [(start, end, op) for op, (start, end) in open_ops.items()]
  return sorted(intervals)


def breakdown(intervals: list[tuple[float, float, str]]) -> tuple:
  """(time per op, idle time): each instant split evenly among the ops
  that run then, so the times add up to the covered wall time."""
  points = sorted({t for s, e, _ in intervals for t in (s, e)})
  per_op, idle = collections.Counter(), 0.0
  for a, b in zip(points[:-1], points[1:]):
    running = [op for s, e, op in intervals if s <= a and e >= b]
    if not running:
      idle += b - a
    for op in running:
      per_op[op] += (b - a) / len(running)
  return per_op, idle


def step_events(trace_dir: str) -> tuple[list[dict], float]:
  """The op events inside the WINDOW annotation, and its length (us)."""
  path = sorted(glob.glob(os.path.join(trace_dir, "**", "*.trace.json.gz"),
                          recursive=True))[-1]
  with gzip.open(path) as f:
    events = [e for e in json.load(f)["traceEvents"] if e.get("ph") == "X"]
  window = next(e for e in events if e["name"] == WINDOW)
  start, end = window["ts"], window["ts"] + window["dur"]
  ops = [e for e in events if start <= e["ts"] <= end
         and not NOT_OPS.search(e["name"])]
  return ops, window["dur"]


def main(argv) -> None:
  del argv
  runners = conv_step._runners(_FAMILY.value, conv_step.NEW, [])  # pylint: disable=protected-access
  run, _ = runners[_MODE.value]
  run(_STEPS.value)  # warm up beyond the first call
  with tempfile.TemporaryDirectory() as trace_dir:
    jax.profiler.start_trace(trace_dir)
    with jax.profiler.TraceAnnotation(WINDOW):
      seconds_per_step = run(_STEPS.value)
    jax.profiler.stop_trace()
    ops, window_us = step_events(trace_dir)
  steps = max(round(window_us / (seconds_per_step * 1e6)), 1)  # ran
  per_op, idle = breakdown(op_intervals(ops))
  per_kind = collections.Counter()
  for op, t in per_op.items():
    per_kind[kind_of(op)] += t
  ms = lambda us: us / 1e3 / steps
  print(f"{_FAMILY.value} {_MODE.value}, batch {conv_step._CONV_BATCH.value}"  # pylint: disable=protected-access
        f": {seconds_per_step * 1e3:.1f} ms per step under the profiler "
        f"({steps:.0f} steps)")
  for kind, t in per_kind.most_common():
    print(f"  {kind:30s} {ms(t):7.1f} ms/step")
  print(f"  {'no op running':30s} {ms(idle):7.1f} ms/step")
  print("largest single ops (ms/step):")
  for op, t in per_op.most_common(_TOP.value):
    print(f"  {ms(t):7.2f}  {op}  [{kind_of(op)}]")
  print(f"examples_per_s="
        f"{conv_step._CONV_BATCH.value / seconds_per_step:.1f} "  # pylint: disable=protected-access
        f"ms_per_step={seconds_per_step * 1e3:.1f}")


if __name__ == "__main__":
  app.run(main)
