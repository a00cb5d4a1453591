r"""Runs a sweep config: every cell x seed, then results tables and figures.

  python -m experiments.sweep --config=configs/table3_mnist_dense.py \
      --workdir=workdirs/table3_mnist_dense
  python -m experiments.sweep --config=configs/table3_mnist_dense.py:quick \
      --workdir=/tmp/table3_quick          # tiny: 10 steps a cell; 1-2 min
                                              # of start-up and compiles

Writes DIR/runs/<cell>/ (one train_and_evaluate run per cell),
DIR/results.csv (one row per cell x seed), DIR/results.json, DIR/results.md
(one row per cell, mean ± sample std) and the config's figures DIR/*.png.
Rerunning the same command skips finished cells and resumes the others;
cells train only from a clean checkout (commit first, or run from a clean
`git worktree`; --allow_dirty overrides), so every cell names its code;
--status_only rewrites the results from the finished cells, trains nothing.
--only=REGEX trains only the cells whose name matches (another order, or
several jobs side by side); --shard=i/n trains cells i, i+n, ...;
--stack_cells trains the cells that differ only in their points (label
count, held-out class) as one program: the same numbers (up to float32
rounding), and on an accelerator the whole table at once.

Overrides, e.g.:
  --config.num_seeds=3 --config.base.train.num_steps=1000
  --config.axes='(("model.variant", ("semi_supervised",)),
                  ("data.num_labels", (60, 600)))'    # one argument

Multi-host (several machines, one job): put --workdir on a filesystem every
host shares, and start the same command on every host with
  --multihost --coordinator_address=HOST0:12345 --num_processes=N \
  --process_id=I            # I = 0 .. N-1, one per host
(on Cloud TPU pods and SLURM the last three can be omitted: jax finds them).
jax.distributed.initialize() then runs before anything else; every process
trains every cell together, each cell's (seed, data) mesh spanning all
hosts' devices, and only process 0 writes results.* and the figures. A
process whose partners have not all joined within --initialization_timeout
seconds (300) stops with one `error:` line naming the coordinator.
tests/multihost_test.py runs two such processes on one machine's CPUs.
"""

import os
import shlex
import sys

from absl import flags
import jax

from ssvae import cli
from ssvae.sweep import runner

_CONFIG, _WORKDIR = cli.config_and_workdir_flags(
    "Sweep config file (configs/table*.py), optionally with ':quick'.",
    "Directory for runs/ and the results files.")
_STATUS_ONLY = flags.DEFINE_bool(
    "status_only", False, "Train nothing: write results.* from the finished "
    "cells, listing the others as pending.")
_SHARD = flags.DEFINE_string(
    "shard", "0/1", "i/n: train only cells i, i+n, i+2n, ... of the sweep, so "
    "that n jobs can share one workdir (each writes the ledger from all "
    "cells finished on disk).")
_ONLY = flags.DEFINE_string(
    "only", None, "A regular expression: train only the cells whose name "
    "it matches (e.g. 'unlabeled_entropy_weight' or 'variant=m2,num_labels="
    "100$'); the ledger lists every cell finished on disk.")
_ALLOW_DIRTY = flags.DEFINE_bool(
    "allow_dirty", os.environ.get("SSVAE_ALLOW_DIRTY", "0") == "1",
    "Train cells from a tree with uncommitted changes (they record "
    "'<commit>-dirty', so their code is no commit's). Default: refuse, "
    "unless $SSVAE_ALLOW_DIRTY=1.")
_STACK_CELLS = flags.DEFINE_bool(
    "stack_cells", False, "Train the cells that differ only in their points "
    "(label count or fraction, held-out class) as one program, stacked "
    "along the seed axis: the numbers of one at a time (up to float32 "
    "rounding), and on an accelerator faster (ssvae/stacking.py).")
_MULTIHOST = cli.multihost_flags()
for _holder in _MULTIHOST:
  flags.declare_key_flag(_holder)  # listed by --help with the flags above


# Flags that choose what one job does, not what the table holds.
_JOB_FLAGS = ("--status_only", "--nostatus_only", "--shard", "--only",
              "--allow_dirty", "--noallow_dirty", "--stack_cells",
              "--nostack_cells")


def command_line(argv=None) -> str:
  """The command that trains the whole table: `python -m experiments.sweep
  ...` as typed, less the flags that split it into jobs (_JOB_FLAGS)."""
  args = [a for a in (sys.argv if argv is None else argv)[1:]
          if a.split("=", 1)[0] not in _JOB_FLAGS]
  return " ".join(["python", "-m", "experiments.sweep",
                   *(shlex.quote(a) for a in args)])


def main(_):
  config = cli.config_from_flag(_CONFIG, ("sweep",))
  shard = runner.parse_shard(_SHARD.value)
  _MULTIHOST.initialize()
  cli.setup_logging()
  summary = runner.run_sweep(config, _WORKDIR.value, command=command_line(),
                            train_pending=not _STATUS_ONLY.value,
                            shard=shard, only=_ONLY.value,
                            allow_dirty=_ALLOW_DIRTY.value,
                            stack_cells=_STACK_CELLS.value)
  if jax.process_index() == 0:
    print(f"Wrote {len(summary)} cells to {_WORKDIR.value}/results.md")


if __name__ == "__main__":
  cli.run(main)
