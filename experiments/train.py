r"""Trains and evaluates one experiment from a config file.

  python -m experiments.train --config=configs/default.py --workdir=/tmp/run \
      --config.data.num_labels=1000

Rerunning the same command resumes from the last checkpoint in --workdir.
Several processes (hosts) train one run together with --multihost
--coordinator_address=HOST0:PORT --num_processes=N --process_id=I, the same
command on each, --workdir on a filesystem all share; only process 0 writes
files (see experiments/sweep.py).
An input error is one line `error: ...` (exit status 2); --traceback shows
its traceback.
"""

from absl import flags
import jax

from ssvae import cli
from ssvae import train

_CONFIG, _WORKDIR = cli.config_and_workdir_flags(
    "Path to a config file with get_config().",
    "Directory for checkpoints, metrics.jsonl and results.json.")
_MULTIHOST = cli.multihost_flags()
for _holder in _MULTIHOST:
  flags.declare_key_flag(_holder)  # listed by --help


def main(_):
  config = cli.config_from_flag(_CONFIG, ("experiment", "feedback"))
  _MULTIHOST.initialize()
  cli.setup_logging()
  results = train.train_and_evaluate(config, _WORKDIR.value)
  if jax.process_index() != 0:
    return
  metrics = {k: [round(v, 4) for v in vs]
             for k, vs in results["metrics"].items()}
  print(f"Final test metrics (per seed {results['seeds']}): {metrics}")
  print(train.summary_line(results, _WORKDIR.value))


if __name__ == "__main__":
  cli.run(main)
