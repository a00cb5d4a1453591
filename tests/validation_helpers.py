"""A config with given model fields, through the one validation point."""

from configs import default
from ssvae import config_validation


def validate_model(**model_fields) -> None:
  """config_validation.validate on configs/default.py with config.model's
  fields replaced (or added) by model_fields; raises its ConfigError."""
  config = default.base_config()
  for name, value in model_fields.items():
    config.model[name] = value
  config_validation.validate(config)
