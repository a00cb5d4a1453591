r"""Choosing alpha for UCI HAR (recurrent model, 60 labels) on validation.

The semi-supervised cell of configs/table10_uci_har_rnn.py at 60 labels, for
each candidate alpha; the table's `val_accuracy` decides (test accuracy is
shown, never used). Needs the official "UCI HAR Dataset" folder.

Run:
  python -m experiments.sweep --config=configs/select_alpha_uci_har.py \
      --workdir=results/select_alpha_uci_har --config.base.data.data_dir=DIR
"""

from configs import common
from configs import table10_uci_har_rnn

TITLE = ("alpha selection (UCI HAR, RNN, semi-supervised, 60 labels): "
         "validation accuracy")
ALPHAS = (1.0, 10.0, 100.0, 1000.0)


def get_config(arg: str = ""):
  quick = common.parse_arg(arg, __file__)
  base = table10_uci_har_rnn.har_base(quick=False)
  base.model.variant = "semi_supervised"
  base.data.num_labels = 6 if quick else 60
  return common.alpha_selection_sweep(base, title=TITLE, alphas=ALPHAS,
                                      quick=quick)
