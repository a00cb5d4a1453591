"""The line protocol between a timing benchmark and its worker processes.

A worker builds its runners ({mode: (run(steps) -> seconds per step,
first-call seconds)}), announces them with `serve`, then answers
`time MODE STEPS` lines on stdin until `quit`. Its answers are JSON on
stdout, marked with PREFIX so that library logging in between is skipped
(`receive`). No jax import: the PyTorch reference worker speaks it too.
"""

import json
import sys

PREFIX = "@@"


def send(obj) -> None:
  print(PREFIX + json.dumps(obj), flush=True)


def serve(runners: dict, about: str) -> None:
  """Announces the runners (with `about`: flags, library version), then
  times them on request."""
  send({"ready": True, "about": about,
        "compile_s": {m: round(c, 1) for m, (_, c) in runners.items()},
        "modes": list(runners)})
  for line in sys.stdin:
    words = line.split()
    if not words or words[0] == "quit":
      return
    _, mode, steps = words
    send({"mode": mode, "seconds_per_step": runners[mode][0](int(steps))})


def receive(stdout) -> dict:
  """The next protocol message on a worker's stdout."""
  for line in stdout:
    if line.startswith(PREFIX):
      return json.loads(line[len(PREFIX):])
  raise RuntimeError("benchmark worker exited before answering.")
