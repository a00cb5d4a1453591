"""Checks a config before any work starts, naming the offending field.

The one place a config's fields are checked: train, sweep and the
feedback protocol call `validate` where a config enters, and the library
below (models.build_model, the model modules, the sampler) trusts it. What
depends on the data (input shapes, factor sizes, the likelihood) is checked
where the data are read.
"""


import ml_collections

from ssvae import config_diff
from ssvae import errors
from ssvae import io_utils
from ssvae import model_spec
from ssvae import models
from ssvae import selection
from ssvae import steps
from ssvae.data import registry as data_registry

# The valid names come from the registries that use them.
DATA_NAMES = data_registry.NAMES
DATA_SOURCES = data_registry.SOURCES
MODEL_FAMILIES = models.FAMILIES + (models.AUTO,)


ConfigError = errors.ConfigError  # Re-exported: where it was first defined.


def _require(condition: bool, field: str, message: str) -> None:
  if not condition:
    raise ConfigError(f"config.{field}: {message}")


def _one_of(config, field: str, valid: tuple) -> None:
  section, name = field.split(".")
  value = config[section][name]
  _require(value in valid, field, f"{value!r} is not one of {valid}.")


def _positive_int(config, field: str) -> None:
  section, name = field.split(".")
  value = config[section][name]
  _require(isinstance(value, int) and value > 0, field,
           f"must be a positive integer, got {value!r}.")


def _positive_ints(name: str, values, length=None) -> None:
  """config.model.<name> is a non-empty sequence of ints > 0 (of `length`
  entries when given)."""
  values = tuple(values) if isinstance(values, (list, tuple)) else (values,)
  if not values or not all(
      isinstance(v, int) and not isinstance(v, bool) and v > 0
      for v in values):
    raise ConfigError(f"config.model.{name}={values!r} must be a non-empty "
                      "sequence of positive integers.")
  if length is not None and len(values) != length:
    raise ConfigError(
        f"config.model.{name}={values!r} must have exactly {length} entries.")


def _validate_family_fields(model) -> None:
  """The fields of config.model that only some families read; an absent
  field is the family's default (models.build_model). For family 'auto'
  they are checked once the data chose the family (ssvae.train)."""
  if "hidden_sizes" in model:
    _positive_ints("hidden_sizes", model.hidden_sizes,
                   length=3 if model.family == models.RNN else None)
  module = {models.CNN: models.CnnVAE,
            models.MULTIHEAD_CNN: models.MultiHeadCnnVAE}.get(model.family)
  if module is None:
    return
  get = lambda name: model.get(name, getattr(module, name))
  channels = get("conv_channels")
  _positive_ints("conv_channels", channels)
  _positive_ints("kernel_size", get("kernel_size"))
  if get("conv_impl") not in model_spec.CONV_IMPL_MODES:
    raise ConfigError(f"config.model.conv_impl={get('conv_impl')!r} is not "
                      f"one of {model_spec.CONV_IMPL_MODES}.")
  if module is models.CnnVAE:
    _positive_ints("conv_strides", get("conv_strides"), length=len(channels))
  else:
    _positive_ints("decoder_channels", get("decoder_channels"),
                   length=len(channels) - 1)


def _field(config, field: str):
  """config's value at `field` ("section.name"); config_diff.ADDED_FIELDS'
  default if absent (configs saved before the field existed)."""
  section, name = field.split(".")
  return config[section].get(name, config_diff.ADDED_FIELDS[field])


def _validate_unlabeled_options(config) -> None:
  """The unlabeled-data options: decoder_y, Gumbel schedule, entropy
  penalty, m2."""
  variant, family = config.model.variant, config.model.family
  chosen = lambda families: family in families or family == models.AUTO
  if variant == model_spec.M2:
    _require(chosen(models.M2_FAMILIES), "model.variant",
             f"'m2' is implemented for model.family in {models.M2_FAMILIES}, "
             f"not {family!r}.")
    _require(config.data.held_out_class == -1, "data.held_out_class",
             "anomaly runs are defined for the one-model variants, not m2.")
  decoder_y = _field(config, "model.decoder_y")
  _require(decoder_y in model_spec.DECODER_Y_MODES, "model.decoder_y",
           f"{decoder_y!r} is not one of {model_spec.DECODER_Y_MODES}.")
  if decoder_y != model_spec.SOFTMAX:
    _require(variant == model_spec.SEMI_SUPERVISED, "model.decoder_y",
             f"{decoder_y!r} applies to the semi_supervised variant only "
             f"(model.variant={variant!r}).")
    _require(chosen(models.DECODER_Y_FAMILIES), "model.decoder_y",
             f"{decoder_y!r} needs a family whose decoder sees y "
             f"{models.DECODER_Y_FAMILIES}, not {family!r}.")
  start = _field(config, "model.gumbel_temperature")
  _require(start > 0, "model.gumbel_temperature", f"must be > 0, got {start}.")
  floor = _field(config, "model.gumbel_temperature_min")
  _require(0 < floor <= start, "model.gumbel_temperature_min",
           f"must be in (0, model.gumbel_temperature={start}], got {floor}.")
  anneal = _field(config, "model.gumbel_anneal_steps")
  _require(isinstance(anneal, int) and anneal >= 0,
           "model.gumbel_anneal_steps",
           f"must be an integer >= 0 (0 = constant), got {anneal!r}.")
  weight = _field(config, "loss.unlabeled_entropy_weight")
  _require(weight >= 0, "loss.unlabeled_entropy_weight",
           f"must be >= 0, got {weight}.")
  if weight:
    _require(model_spec.has_classifier(variant) and model_spec.has_decoder(variant),
             "loss.unlabeled_entropy_weight",
             f"penalises q(y|x) on unlabeled points, which model.variant="
             f"{variant!r} does not have; use 0.")
  diagnostics = _field(config, "train.diagnostics")
  _require(isinstance(diagnostics, bool), "train.diagnostics",
           f"must be True or False, got {diagnostics!r}.")


def _validate_optimizer(config) -> None:
  """The learning rate, the optimizer's name, its two averages and the
  learning-rate schedule."""
  rate = config.optimizer.learning_rate
  _require(io_utils.is_finite_number(rate) and rate > 0,
           "optimizer.learning_rate", f"must be > 0, got {rate!r}.")
  name = _field(config, "optimizer.name")
  _require(name in steps.OPTIMIZERS, "optimizer.name",
           f"{name!r} is not one of {steps.OPTIMIZERS}.")
  for field in ("optimizer.decay", "optimizer.momentum"):
    value = config.optimizer[field.split(".")[1]]
    _require(io_utils.is_finite_number(value) and 0.0 <= value < 1.0, field,
             f"must be in [0, 1), got {value!r}.")
  schedule = _field(config, "optimizer.schedule")
  _require(schedule in steps.SCHEDULES, "optimizer.schedule",
           f"{schedule!r} is not one of {steps.SCHEDULES}.")
  warmup = _field(config, "optimizer.warmup_steps")
  decay_steps = _field(config, "optimizer.decay_steps")
  _require(isinstance(warmup, int) and not isinstance(warmup, bool)
           and warmup >= 0, "optimizer.warmup_steps",
           f"must be an integer >= 0, got {warmup!r}.")
  _require(isinstance(decay_steps, int) and not isinstance(decay_steps, bool)
           and decay_steps >= 0, "optimizer.decay_steps",
           f"must be an integer >= 0, got {decay_steps!r}.")
  if schedule == "constant":
    for field, value in (("optimizer.warmup_steps", warmup),
                         ("optimizer.decay_steps", decay_steps)):
      _require(value == 0, field,
               f"optimizer.schedule='constant' does not use it (got "
               f"{value}); set optimizer.schedule to 'warmup_cosine' or "
               "'exponential', or leave it 0.")
  else:
    _require(decay_steps > 0, "optimizer.decay_steps",
             f"optimizer.schedule={schedule!r} needs decay_steps > 0 (the "
             f"cosine's end, or the exponential's half-life).")
  if schedule == "warmup_cosine":
    _require(warmup < decay_steps, "optimizer.warmup_steps",
             f"must be below optimizer.decay_steps ({decay_steps}), got "
             f"{warmup}.")


def _validate_labeled_fraction(config) -> None:
  fraction = config.data.get("labeled_fraction_of_batch", 0.5)
  field = "data.labeled_fraction_of_batch"
  _require(isinstance(fraction, (int, float)) and 0.0 < fraction < 1.0,
           field, f"must be in (0, 1), got {fraction!r}.")
  count = config.train.batch_size * fraction
  _require(abs(count - round(count)) < 1e-6, field,
           f"times train.batch_size ({config.train.batch_size}) must be a "
           f"whole number of labeled points, got {count:g}.")


def validate(config: ml_collections.ConfigDict) -> None:
  """Raises ConfigError for the first invalid value found."""
  _one_of(config, "data.name", DATA_NAMES)
  _one_of(config, "data.source", DATA_SOURCES)
  _one_of(config, "model.family", MODEL_FAMILIES)
  _one_of(config, "model.variant", model_spec.VARIANTS)
  data = config.data
  _require(data.num_labels == -1 or data.num_labels >= 0, "data.num_labels",
           f"must be -1 (all labels) or >= 0, got {data.num_labels}.")
  _require(data.label_fraction == -1.0 or 0.0 <= data.label_fraction <= 1.0,
           "data.label_fraction",
           f"must be in [0, 1] (or -1 to use data.num_labels), got "
           f"{data.label_fraction}.")
  _require(isinstance(data.validation_size, int)
           and data.validation_size >= -1, "data.validation_size",
           f"must be -1 (the data set's default), 0 (none) or a positive "
           f"number of points, got {data.validation_size!r}.")
  _one_of(config, "train.select_metric", selection.SELECT_METRICS)
  _require(isinstance(config.train.patience, int)
           and config.train.patience >= 0, "train.patience",
           f"must be an integer >= 0 (0 = no early stop), got "
           f"{config.train.patience!r}.")
  _require(config.train.min_delta >= 0, "train.min_delta",
           f"must be >= 0, got {config.train.min_delta!r}.")
  _require(data.held_out_class >= -1, "data.held_out_class",
           f"must be a class index or -1, got {data.held_out_class}.")
  if config.model.variant == model_spec.SUPERVISED:
    _require(data.num_labels != 0 and data.label_fraction != 0.0,
             "data.num_labels",
             "the supervised variant needs labels; got none.")
  _validate_unlabeled_options(config)
  _positive_int(config, "model.latent_dim")
  _validate_family_fields(config.model)
  _require(0.0 <= config.model.dropout_rate < 1.0, "model.dropout_rate",
           f"must be in [0, 1), got {config.model.dropout_rate}.")
  _require(config.loss.alpha >= 0, "loss.alpha",
           f"must be >= 0, got {config.loss.alpha}.")
  _require(config.loss.beta >= 0, "loss.beta",
           f"must be >= 0, got {config.loss.beta}.")
  _validate_optimizer(config)
  for field in ("train.batch_size", "train.num_steps", "train.steps_per_call",
                "train.eval_every", "train.checkpoint_every",
                "train.eval_batch_size", "train.num_seeds"):
    _positive_int(config, field)
  _require(config.train.batch_size % 2 == 0, "train.batch_size",
           f"must be even (labeled and unlabeled halves), got "
           f"{config.train.batch_size}.")
  _validate_labeled_fraction(config)
  log_every = config.train.get("log_every", 0)
  _require(isinstance(log_every, int) and not isinstance(log_every, bool)
           and log_every >= 0, "train.log_every",
           f"must be an integer >= 0 (0 = once per steps_per_call chunk), "
           f"got {log_every!r}.")
  verify = config.data.get("verify_checksums", True)
  _require(isinstance(verify, bool), "data.verify_checksums",
           f"must be True or False, got {verify!r}.")
