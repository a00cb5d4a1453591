"""Default experiment: dense semi-supervised VAE on scikit-learn's 8x8 digits.

Needs nothing downloaded and runs in about a minute on 2 CPU cores. The
paper's architecture (Table 13) is used with smaller layers because the
images are 8x8; 100 labels, class-balanced.

`base_config()` holds every field, with the values every other config starts
from (configs/mnist_dense.py and the rest); `get_config()` is the default
experiment: that base with loss.alpha 100 (the paper's MNIST value) and a
learning rate of 3e-4. With the base's alpha 1 and rate 1e-3 the soft class
layer y, which the decoder sees and no KL term prices, carried everything:
the latent z went unused (KL 0.002 nats at every evaluation). Measured on
this config at 3000 steps: alpha 100 at rate 1e-3 gives KL 1.05 at the
selected step, then 0.29 by step 3000; at 3e-4, KL 1.25, then 0.55, and test
accuracy 0.933 (BUILD_NOTES.md, "The default experiment").

Run:
  python -m experiments.train --config=configs/default.py --workdir=/tmp/ssvae_default
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  """The default experiment (digits, 100 labels): z is used."""
  config = base_config()
  config.loss.alpha = 100.0
  config.optimizer.learning_rate = 3e-4
  return config


def base_config() -> ml_collections.ConfigDict:
  """Every field, at the values every other config starts from."""
  config = ml_collections.ConfigDict()
  config.seed = 0

  config.data = ml_collections.ConfigDict()
  config.data.name = "digits"       # digits | mnist | fashion_mnist | dsprites | smallnorb | uci_har
  config.data.source = "auto"       # auto | files | tfds | embedded
  config.data.data_dir = ""         # directory with the official raw files ("" = known locations)
  # MNIST / Fashion-MNIST IDX files of an official file's size must match
  # its MD5 (ssvae.data.idx.check_official); False reads such a file of
  # one's own.
  config.data.verify_checksums = True
  config.data.num_labels = 100      # class-balanced labeled points; -1 = all labels
  config.data.label_fraction = -1.0  # used instead of num_labels when in [0, 1]
  config.data.held_out_class = -1   # anomaly detection: class removed from training (-1 = none)
  # Validation split for model selection, held out of the official training
  # split (class-stratified, chosen by split_seed, the same for every
  # training seed); labeled and unlabeled pools come from the rest. -1 = the
  # data set's default (10000 for MNIST and Fashion-MNIST, 10% otherwise);
  # 0 = none (the last step is reported, and results say so).
  config.data.validation_size = -1
  config.data.split_seed = 0
  # Labeled share of a mixed batch: the paper's 0.5 (1:1). Lower values show
  # each labeled point less often (opt-in, beyond the paper); batch_size *
  # this must be a whole number.
  config.data.labeled_fraction_of_batch = 0.5

  config.model = ml_collections.ConfigDict()
  config.model.family = "dense"     # dense | cnn | rnn | multihead_cnn
  # m2: Kingma et al. (2014)'s M2 (separate q(y|x) and q(z|x, y) networks,
  # every class enumerated; dense family only), for comparisons.
  config.model.variant = "semi_supervised"  # semi_supervised | supervised | unsupervised | m2
  config.model.latent_dim = 2
  config.model.hidden_sizes = (256, 256)
  config.model.dropout_rate = 0.0
  # What the semi_supervised decoder sees of y (ssvae.models.common.DecoderY):
  # softmax (the paper) | straight_through (one-hot argmax forward, softmax
  # gradient) | gumbel_softmax | detached (softmax, no gradient from the
  # decoder into the class head). Labeled points too see q(y|x), never the
  # label. Not for multihead_cnn.
  config.model.decoder_y = "softmax"
  # gumbel_softmax temperature: exponential from gumbel_temperature to
  # gumbel_temperature_min over gumbel_anneal_steps steps, then flat
  # (0 steps = constant).
  config.model.gumbel_temperature = 1.0
  config.model.gumbel_temperature_min = 0.5
  config.model.gumbel_anneal_steps = 5000

  config.loss = ml_collections.ConfigDict()
  config.loss.alpha = 1.0           # weight of the labeled cross-entropy
  config.loss.beta = 1.0            # weight of the KL term
  # Weight of the mean entropy of q(y|x) over the unlabeled points of each
  # batch, added to the loss (0 = the paper's loss; ssvae.losses).
  config.loss.unlabeled_entropy_weight = 0.0

  config.optimizer = ml_collections.ConfigDict()
  # rmsprop (the paper's) | adam. decay: of the squared-gradient average
  # (RMSprop's rho, Adam's b2); momentum: heavy-ball momentum (RMSprop's) or
  # the first-moment average (Adam's b1). configs/recipe_search.py says
  # which values the paper's lost sentence can mean.
  config.optimizer.name = "rmsprop"
  config.optimizer.learning_rate = 1e-3
  config.optimizer.decay = 0.9
  config.optimizer.momentum = 0.9
  # constant (the paper: "without decay") | warmup_cosine (0 -> rate over
  # warmup_steps, cosine to 0 at decay_steps) | exponential (halved every
  # decay_steps, after warmup_steps).
  config.optimizer.schedule = "constant"
  config.optimizer.warmup_steps = 0
  config.optimizer.decay_steps = 0

  config.train = ml_collections.ConfigDict()
  config.train.batch_size = 128     # global batch; labeled:unlabeled 1:1 when mixed
  config.train.num_steps = 3000
  config.train.steps_per_call = 50  # steps fused into one jitted lax.scan
  config.train.eval_every = 500
  # Train scalars (loss, ELBO terms, accuracy on the batch) are logged as
  # the mean of every log_every steps, whatever steps_per_call is; 0 = one
  # record per steps_per_call chunk.
  config.train.log_every = 0
  config.train.checkpoint_every = 1000
  config.train.eval_batch_size = 1000
  config.train.num_seeds = 1        # seeds trained together as one vmapped program
  # Model selection: every eval_every steps each seed's state is scored on
  # validation; each seed reports its best. select_metric: auto (accuracy
  # for classifiers, ELBO for the unsupervised sibling and anomaly runs) |
  # accuracy | elbo | log_loss | reconstruction | kl | last (no selection).
  config.train.select_metric = "auto"
  # Stop when every seed has gone this many evaluations without improving
  # on validation (0 = never; num_steps is the cap either way).
  config.train.patience = 0
  # An evaluation improves only when it beats the best so far by more than
  # this (in the select metric's units, e.g. nats of ELBO), as Keras'
  # EarlyStopping min_delta.
  config.train.min_delta = 0.0
  # Unroll the scanned steps (True for convolutions on CPU, jax#12868).
  config.train.scan_unroll = 1
  # Log where reconstruction comes from (through y vs through z,
  # ssvae.steps.reconstruction_split): three extra decoder passes a
  # step, for variants whose decoder sees y.
  config.train.diagnostics = False
  config.anomaly_samples = 10       # Monte-Carlo samples of the anomaly score
  return config
