"""MNIST, CNN of the paper's Table 14 (3 convs of 64, BatchNorm, dropout,
one dense layer of 512).

Reproduces the CNN rows of Tables 3 and 4 on MNIST.

Run:
  python -m experiments.train --config=configs/mnist_cnn.py \
      --workdir=workdirs/mnist_cnn
"""

from configs import common
from configs import mnist_dense


def get_config():
  config = mnist_dense.get_config()
  config.model.family = "cnn"
  config.model.hidden_sizes = (512,)  # not mnist_dense's (1024, 1024)
  config.model.latent_dim = 2
  config.model.dropout_rate = 0.25
  config.train.batch_size = 128
  config.train.num_steps = 3000
  common.unrolled_chunks(config.train)
  config.train.eval_every = 1000
  config.train.eval_batch_size = 500
  return config
