r"""Paper Table 10, UCI HAR, recurrent model of the paper's Table 15:
semi-supervised VAE vs supervised sibling at 60 and 600 labels (class-balanced
over the 6 activities, so label counts must be divisible by 6).

Base: configs/default.py with data uci_har (raw inertial windows [128, 6],
standardized with train statistics), family rnn, hidden (40, 40, 30),
latent 2, batch 64, alpha 100, the converged protocol (10% of the training
windows held out for validation, evaluation every 250 steps, patience 10,
cap 10000 steps), 5 seeds per cell. The paper's label counts
were lost from our copy of the text; change them with --config.axes.
Data: the official "UCI HAR Dataset" folder under ../shared/data/uci_har or
--config.base.data.data_dir.

Run:
  python -m experiments.sweep --config=configs/table10_uci_har_rnn.py \
      --workdir=workdirs/table10_uci_har_rnn
Quick (6 and 12 labels, tiny LSTM, 10 steps, 2 seeds; still needs HAR files,
tests write synthetic ones in the official layout):
  python -m experiments.sweep --config=configs/table10_uci_har_rnn.py:quick \
      --workdir=/tmp/table10_quick --config.base.data.data_dir=DIR
"""

from configs import common
from configs import default

TITLE = ("Table 10 (UCI HAR, RNN): test accuracy, semi-supervised vs "
         "supervised")
LABEL_COUNTS = (60, 600)


def har_base(quick: bool):
  """The UCI HAR recurrent experiment config (Table 15 architecture)."""
  base = default.base_config()
  base.data.update(name="uci_har", num_labels=LABEL_COUNTS[0])
  base.model.update(family="rnn", hidden_sizes=(40, 40, 30), latent_dim=2)
  # alpha: with alpha=1 the class term is negligible next to a Gaussian
  # log-likelihood summed over 128 x 6 values, and the semi-supervised model
  # stays at chance. configs/select_alpha_uci_har.py chooses it on
  # validation; see BUILD_NOTES for what was measured.
  base.loss.alpha = 100.0
  base.train.batch_size = 64
  common.converged_protocol(base.train, num_steps=10000)
  base.train.steps_per_call = 50
  base.train.checkpoint_every = 500
  base.train.eval_batch_size = 500
  if quick:
    base = common.tiny(base, keep_data=True)
  return base


def get_config(arg: str = ""):
  quick = common.parse_arg(arg, __file__)
  return common.new_sweep_config(
      title=common.titled(TITLE, quick),
      base=har_base(quick),
      axes=(("model.variant", ("semi_supervised", "supervised")),
            ("data.num_labels", (6, 12) if quick else LABEL_COUNTS)),
      num_seeds=2 if quick else 5,
      metrics=("accuracy",),
      plots_to_write=("accuracy_vs_labels",))
