"""Tests for ssvae.selection.resolve_metric."""

import pytest

from configs import default
from ssvae import selection


@pytest.mark.parametrize("variant, held_out_class, expected", [
    ("semi_supervised", -1, "accuracy"),
    ("semi_supervised", 9, "elbo"),
    ("unsupervised", -1, "elbo"),
    ("supervised", -1, "accuracy"),
    ("supervised", 9, "accuracy"),  # no decoder, so no ELBO to select on
])
def test_auto_picks_a_metric_the_model_reports(variant, held_out_class,
                                               expected):
  config = default.base_config()
  config.model.variant = variant
  config.data.held_out_class = held_out_class
  assert selection.resolve_metric(config) == expected


def test_no_validation_split_means_the_last_step():
  config = default.base_config()
  config.data.validation_size = 0
  assert selection.resolve_metric(config) == selection.LAST
