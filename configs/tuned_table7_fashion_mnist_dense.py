r"""Table 7 (Fashion-MNIST, dense) at each variant's tuned recipe, beside the fixed-recipe table.

configs/table7_fashion_mnist_dense.py with every variant trained at the recipe configs/
recipe_search.py picked for it on MNIST validation accuracy at
num_labels=100 (configs/common.py: TUNED_RECIPES), named in the title.
The fixed-recipe table stays: it records the paper's model under one guess.
Every label count uses the 100-label pick (the search ran at 100 labels).
The recipes are MNIST's: the search did not run on Fashion-MNIST.
Refused, naming the missing picks, until the recipe search has them.

Run:
  python -m experiments.sweep --config=configs/tuned_table7_fashion_mnist_dense.py \
      --workdir=results/table7_fashion_mnist_dense_tuned
Quick (the base recipe; tests the plumbing):
  python -m experiments.sweep --config=configs/tuned_table7_fashion_mnist_dense.py:quick \
      --workdir=/tmp/table7_fashion_mnist_dense_tuned_quick
"""

from configs import common
from configs import table7_fashion_mnist_dense

def get_config(arg: str = ""):
  quick = common.parse_arg(arg, __file__)
  return common.tuned_version(table7_fashion_mnist_dense.get_config(arg), recipe_labels=100,
                              quick=quick)
