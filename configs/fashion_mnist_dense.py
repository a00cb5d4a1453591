"""Fashion-MNIST, dense model of the paper's Table 13.

Reproduces the Fashion-MNIST rows of Table 7 (and Table 8 with
--config.data.num_labels=-1).

Run:
  python -m experiments.train --config=configs/fashion_mnist_dense.py \
      --workdir=workdirs/fashion_mnist_dense
Data: ../shared/data/fashion_mnist, Debian's dataset-fashion-mnist
(/usr/share/datasets/fashion-mnist), or --config.data.data_dir (in a sweep
--config.base.data.data_dir) with the official IDX files.
"""

from configs import common
from configs import mnist_dense


def get_config():
  return common.fashion_mnist(mnist_dense.get_config())
