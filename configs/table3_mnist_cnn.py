r"""Paper Table 3, CNN rows: MNIST, CNN of the paper's Table 14,
semi-supervised VAE vs supervised sibling at 100, 600, 1000 and 3000 labels.

Base (`base()`, shared by the CNN rows of Tables 4, 7 and 8):
configs/mnist_cnn.py at batch BATCH_SIZE under the converged protocol
(configs/common.py: converged_protocol: validation-selected state, a stop
after 10 evaluations without improvement), evaluated every EVAL_EVERY steps,
capped at NUM_STEPS; 5 seeds per cell. The paper gives no batch size. On the
2-core CPU the CNN trains at the same examples/s at every batch from 32 to
256 (benchmarks/cnn_batch_size.py, 5 vmapped seeds: 155.6, 150.7, 154.7 and
153.9 examples/s at 32, 64, 128 and 256; BUILD_NOTES "CNN batch size"), so
the smallest, 32, makes the most parameter updates per CPU second.
Evaluations come every 500 steps (16,000 examples), not the dense tables'
250: an evaluation passes 2 x 10,000 images per seed forward, which, if a
forward pass costs a third of a training step (an estimate, not timed),
is about the cost of 250 training steps at this batch.

Run (the CPU cells at 100 and 1000 labels first):
  python -m experiments.sweep --config=configs/table3_mnist_cnn.py \
      --workdir=results/table3_mnist_cnn --only='num_labels=(100|1000)$'
Quick (digits, 4-channel convs, 10 steps; what tests run):
  python -m experiments.sweep --config=configs/table3_mnist_cnn.py:quick \
      --workdir=/tmp/table3_cnn_quick
"""

from configs import common
from configs import mnist_cnn
from configs import table3_mnist_dense

TITLE = "Table 3 (MNIST, CNN): test accuracy, semi-supervised vs supervised"
BATCH_SIZE = 32
EVAL_EVERY = 500
NUM_STEPS = 40000  # a cap (1.28M examples, 26 epochs); the early stop ends runs


def base():
  """configs/mnist_cnn.py at BATCH_SIZE under the converged protocol,
  evaluated and checkpointed every EVAL_EVERY steps: the base of the CNN
  rows of Tables 3, 4, 7 and 8."""
  config = mnist_cnn.get_config()
  config.train.batch_size = BATCH_SIZE
  common.converged_protocol(config.train, num_steps=NUM_STEPS)
  config.train.eval_every = EVAL_EVERY
  config.train.checkpoint_every = EVAL_EVERY
  return config


def get_config(arg: str = ""):
  quick = common.parse_arg(arg, __file__)
  return table3_mnist_dense.sweep(base(), TITLE, quick)
