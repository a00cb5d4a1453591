r"""Anomaly detection with user feedback on MNIST (paper section 5).

The protocol is in ssvae/detect/feedback_experiment.py. Digit 9 is the anomaly;
the semi-supervised dense VAE (configs/mnist_dense.py architecture, head of
10 + 2 classes: digits, false positive, false negative) trains on the normal
digits with 900 labels (100 per normal digit), 600 steps at batch 128 per
round (~1.4 epochs, as Table 6), 3 seeds trained side by side. Feedback
rounds label 10, 50 and 200 points of the feedback pool and retrain from
scratch.

Cost on the 2-core dev machine under load: ~0.23 s per step for 3 seeds
(~2.5 min per round) plus ~1 min of anomaly scoring per round (10,000
training points for s_max and the flag threshold, 5,000 evaluation points).

Run:
  python -m experiments.feedback --config=configs/feedback_mnist.py \
      --workdir=workdirs/feedback_mnist
Quick (digits, tiny model, 10 steps, about a minute; what tests run):
  python -m experiments.feedback --config=configs/feedback_mnist.py:quick \
      --workdir=/tmp/feedback_quick
"""

import ml_collections

from configs import common
from configs import mnist_dense


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  quick = common.parse_arg(arg, __file__)
  config = mnist_dense.get_config()
  config.data.held_out_class = 9    # the anomaly digit
  config.data.num_labels = 900      # class-balanced over the 9 normal digits
  config.model.variant = "semi_supervised"
  config.train.batch_size = 128
  config.train.num_steps = 600
  config.train.steps_per_call = 50
  config.train.eval_every = 600
  config.train.checkpoint_every = 200
  config.train.num_seeds = 3

  config.feedback = ml_collections.ConfigDict()
  config.feedback.num_feedback = (10, 50, 200)  # labels per feedback round
  config.feedback.split_seed = 0    # test split -> feedback pool / eval set
  # The detector flags points scoring above this quantile of the training
  # scores (a 5% false-alarm rate on normal training data).
  config.feedback.flag_quantile = 0.95
  config.feedback.strategy = "random"  # or "most_confident"
  # Training points scored for s_max and the flag threshold (-1 = all).
  config.feedback.num_train_scored = 10000

  if quick:
    config = common.tiny(config, num_steps=30, steps_per_call=10,
                         eval_every=30, checkpoint_every=10, num_seeds=2)
    config.data.num_labels = 45
    config.model.hidden_sizes = (32,)
    config.anomaly_samples = 3
    config.feedback.num_feedback = (4, 8)
    config.feedback.num_train_scored = 500
  return config
