"""Tests for ssvae.config_diff."""

import json

from ssvae import config_diff


def test_equal_configs_have_no_changes():
  config = {"train": {"num_steps": 5, "sizes": [1, 2]}, "seed": 0}
  assert config_diff.changed_fields(config, config) == []


def test_changed_added_and_removed_fields_are_named():
  saved = {"train": {"num_steps": 5, "old": 1}, "seed": 0}
  current = {"train": {"num_steps": 6, "new": 2}, "seed": 0}
  assert config_diff.changed_fields(saved, current) == [
      "train.new", "train.num_steps", "train.old"]
  assert config_diff.changed_fields(saved, current,
                                    ignore=("train.num_steps",)) == [
                                        "train.new", "train.old"]


def test_a_field_added_later_matches_only_its_old_behaviour(monkeypatch):
  monkeypatch.setattr(config_diff, "ADDED_FIELDS", {"loss.extra": 0.0})
  saved = {"loss": {"alpha": 1.0}}
  assert config_diff.changed_fields(
      saved, {"loss": {"alpha": 1.0, "extra": 0.0}}) == []
  assert config_diff.changed_fields(
      saved, {"loss": {"alpha": 1.0, "extra": 3.0}}) == ["loss.extra"]


def test_tuples_and_lists_compare_equal():
  assert config_diff.changed_fields({"m": {"h": [1, 2]}},
                                    {"m": {"h": (1, 2)}}) == []


def test_added_fields_hold_the_current_defaults():
  """Each added field's listed value is what configs/default.py sets, so a
  default run today is the same experiment as one saved before the field."""
  from configs import default  # pylint: disable=g-import-not-at-top
  current = config_diff.flatten(
      json.loads(default.base_config().to_json_best_effort()))
  for field, value in config_diff.ADDED_FIELDS.items():
    assert current[field] == value, field
