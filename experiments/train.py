r"""Trains and evaluates one experiment from a config file.

  python -m experiments.train --config=configs/default.py --workdir=/tmp/run \
      --config.data.num_labels=1000

Rerunning the same command resumes from the last checkpoint in --workdir.
An input error is one line `error: ...` (exit status 2); --traceback shows
its traceback.
"""


from ssvae import cli
from ssvae import logging_utils
from ssvae.eval import evaluation

_CONFIG, _WORKDIR = cli.config_and_workdir_flags(
    "Path to a config file with get_config().",
    "Directory for checkpoints, metrics.jsonl and results.json.")


def main(_):
  logging_utils.setup()
  config = cli.config_from_flag(_CONFIG, ("experiment", "feedback"))
  results = evaluation.train_and_evaluate(config, _WORKDIR.value)
  metrics = {k: [round(v, 4) for v in vs]
             for k, vs in results["metrics"].items()}
  print(f"Final test metrics (per seed {results['seeds']}): {metrics}")
  print(evaluation.summary_line(results, _WORKDIR.value))


if __name__ == "__main__":
  cli.run(main)
