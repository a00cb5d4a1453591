"""Fashion-MNIST, CNN of the paper's Table 14.

Reproduces the CNN rows of Tables 7 and 8.

Run:
  python -m experiments.train --config=configs/fashion_mnist_cnn.py \
      --workdir=workdirs/fashion_mnist_cnn
"""

from configs import common
from configs import mnist_cnn


def get_config():
  return common.fashion_mnist(mnist_cnn.get_config())
