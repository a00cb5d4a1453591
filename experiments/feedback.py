r"""Anomaly detection with simulated user feedback (paper section 5).

  python -m experiments.feedback --config=configs/feedback_mnist.py \
      --workdir=workdirs/feedback_mnist
  python -m experiments.feedback --config=configs/feedback_mnist.py:quick \
      --workdir=/tmp/feedback_quick          # tiny version, seconds

Writes DIR/round_0/ and DIR/feedback_<n>/ (one training run each),
DIR/results.json and DIR/results.md (AUC before and after feedback, mean ±
sample std over seeds). Rerunning the same command skips finished rounds and
resumes the others from their checkpoints. Protocol:
ssvae/detect/feedback_experiment.py.
"""

import shlex
import sys


from ssvae import cli
from ssvae import config_validation
from ssvae.detect import feedback_experiment

_CONFIG, _WORKDIR = cli.config_and_workdir_flags(
    "Feedback config file (configs/feedback_mnist.py), optionally with "
    "':quick'.", "Directory for the rounds and the results files.")


def main(_):
  cli.setup_logging()
  command = shlex.join(["python", "-m", "experiments.feedback", *sys.argv[1:]])
  config = cli.config_from_flag(_CONFIG, ("feedback", "experiment"))
  feedback_experiment.check_config(config)
  config_validation.validate(config)
  summary = feedback_experiment.run_feedback_experiment(
      config, _WORKDIR.value, command=command)
  print(feedback_experiment.results_markdown(summary))


if __name__ == "__main__":
  cli.run(main)
