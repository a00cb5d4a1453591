r"""Your own data: the paper's model on arrays from files (ssvae.data.arrays).

data.train_path and data.test_path are .npy files (inputs only, no labels)
or .npz files with `x` (images [N, H, W, C] or time series [N, T, features])
and optionally `y` (integer labels, -1 = unlabeled). The model family
follows the shape (model.family 'auto': rnn for time series, dense for
images) and the likelihood the values (data.likelihood 'auto': Bernoulli
for images in [0, 1], else Gaussian); set either to override. Every label
in the training file is used (data.num_labels -1), so the same command
covers no labels, a few and all of them. With no labels at all, use the
unsupervised sibling (model.variant=unsupervised): the paper's model needs a
class layer to feed its decoder. A validation split of 10% of the training
points is held out for model selection: on accuracy where it holds labeled
points, else on the ELBO.

Run (anomaly detection on sensor windows, README "Anomaly detection on your
own sensor data"):
  python -m experiments.train --config=configs/arrays.py \
      --config.data.train_path=windows_train.npz \
      --config.data.test_path=windows_test.npz --workdir=workdirs/own_data
"""

from configs import default


def get_config():
  config = default.base_config()
  config.data.name = "arrays"
  config.data.train_path = ""
  config.data.test_path = ""
  config.data.likelihood = "auto"  # auto | bernoulli | gaussian
  config.data.num_classes = 0      # 0 = one more than the largest label
  config.data.num_labels = -1      # every labeled point of the training file
  config.model.family = "auto"     # auto | dense | cnn | rnn
  config.model.latent_dim = 8
  config.model.hidden_sizes = (128, 128, 128)  # dense widths / rnn (in, lstm, out)
  config.loss.alpha = 100.0
  config.optimizer.learning_rate = 3e-4
  config.train.batch_size = 64
  config.train.num_steps = 2000
  config.train.eval_every = 250
  config.train.checkpoint_every = 500
  return config
