r"""Paper Table 11, UCI HAR, recurrent model: anomaly detection ROC AUC with
WALKING (class 0) held out, plain VAE (unsupervised) vs semi-supervised VAE
with labels on 10% of the normal training windows (data.label_fraction).

Base: as configs/table10_uci_har_rnn.py (2000 steps at batch 64), 5 seeds per
cell. Other held-out activities: --config.axes.

Run:
  python -m experiments.sweep --config=configs/table11_uci_har_rnn.py \
      --workdir=workdirs/table11_uci_har_rnn
Quick (tiny LSTM, 10 steps, 2 seeds; needs HAR files, e.g. synthetic ones):
  python -m experiments.sweep --config=configs/table11_uci_har_rnn.py:quick \
      --workdir=/tmp/table11_quick --config.base.data.data_dir=DIR
"""

from configs import common
from configs import table10_uci_har_rnn

TITLE = ("Table 11 (UCI HAR, RNN): anomaly ROC AUC, WALKING held out, "
         "unsupervised vs semi-supervised (10% of normal data labeled)")
HELD_OUT_CLASSES = (0,)  # WALKING
LABEL_FRACTION = 0.1


def get_config(arg: str = ""):
  quick = common.parse_arg(arg, __file__)
  base = table10_uci_har_rnn.har_base(quick)
  base.data.label_fraction = LABEL_FRACTION
  return common.new_sweep_config(
      title=common.titled(TITLE, quick),
      base=base,
      axes=(("data.held_out_class", HELD_OUT_CLASSES),
            ("model.variant", ("unsupervised", "semi_supervised"))),
      num_seeds=2 if quick else 5,
      metrics=("auc",),
      plots_to_write=("auc_per_class",))
