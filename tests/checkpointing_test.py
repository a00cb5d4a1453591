"""Tests for ssvae.checkpointing: damaged checkpoints are found, not read."""

import os

import numpy as np
import pytest

from ssvae import checkpointing
from ssvae import errors


def tree(scale=1.0):
  return {"params": {"w": np.full((64, 64), scale, np.float32),
                     "b": np.zeros(64, np.float32)},
          "step": np.array(3, np.int32)}


@pytest.fixture
def saved(tmp_path):
  """A workdir with checkpoints at steps 1 and 2 (closed)."""
  ckpt = checkpointing.Checkpointer(str(tmp_path))
  ckpt.save(1, tree(1.0))
  ckpt.save(2, tree(2.0))
  ckpt.close()
  return tmp_path


def delete_manifest(step_dir):
  (step_dir / "default" / "manifest.ocdbt").unlink()


def truncate_largest_file(step_dir):
  """Cuts the largest array data file (in a d/ folder of the database)."""
  path = max((p for p in step_dir.rglob("d/*") if p.is_file()),
             key=lambda p: p.stat().st_size)
  with open(path, "r+b") as f:
    f.truncate(path.stat().st_size // 2)


def overwrite_largest_file(step_dir):
  path = max((p for p in step_dir.rglob("d/*") if p.is_file()),
             key=lambda p: p.stat().st_size)
  data = bytearray(path.read_bytes())
  data[100:200] = bytes(100)
  path.write_bytes(bytes(data))


def delete_largest_file(step_dir):
  max((p for p in step_dir.rglob("d/*") if p.is_file()),
      key=lambda p: p.stat().st_size).unlink()


@pytest.mark.parametrize("name", [
    "with space", "ünïcødé", "run%20a", "run #1 100%", "a?b=c", "%"])
def test_checkpoints_in_any_path_resume(tmp_path, name):
  workdir = tmp_path / name / "run"
  ckpt = checkpointing.Checkpointer(str(workdir))
  ckpt.save(1, tree(1.0))
  ckpt.save(2, tree(2.0))
  ckpt.close()
  ckpt = checkpointing.Checkpointer(str(workdir))
  assert ckpt.newest_intact_step(tree()) == (2, {})
  np.testing.assert_array_equal(ckpt.restore(2, tree())["params"]["w"], 2.0)
  ckpt.close()


def test_a_read_error_that_is_not_damage_is_named_and_moves_nothing(
    saved, monkeypatch):
  def refuse(item_dir):
    raise ValueError(f"INVALID_ARGUMENT: cannot open {item_dir}")
  monkeypatch.setattr(checkpointing, "_read_arrays", refuse)
  ckpt = checkpointing.Checkpointer(str(saved))
  with pytest.raises(checkpointing.CheckpointUnreadable,
                     match=r"step 2 .* not called damaged .*INVALID_ARGUMENT"):
    ckpt.newest_intact_step(tree())
  assert ckpt.all_steps() == [1, 2]
  ckpt.close()


def test_intact_checkpoints_restore(saved):
  ckpt = checkpointing.Checkpointer(str(saved))
  assert ckpt.newest_intact_step(tree()) == (2, {})
  np.testing.assert_array_equal(ckpt.restore(2, tree())["params"]["w"], 2.0)
  ckpt.close()


@pytest.mark.parametrize("damage, reason", [
    (delete_manifest, "manifest.ocdbt"),
    (truncate_largest_file, "OUT_OF_RANGE"),
    (overwrite_largest_file, "Error decoding"),
    (delete_largest_file, "NOT_FOUND"),
])
def test_damaged_latest_falls_back_to_the_previous_step(saved, damage,
                                                        reason):
  damage(saved / "checkpoints" / "2")
  ckpt = checkpointing.Checkpointer(str(saved))
  step, damaged = ckpt.newest_intact_step(tree())
  assert step == 1 and list(damaged) == [2] and reason in damaged[2]
  moved = ckpt.set_aside(damaged)
  assert moved == [str(saved / "damaged_checkpoints" / "2")]
  assert ckpt.all_steps() == [1]
  np.testing.assert_array_equal(ckpt.restore(1, tree())["params"]["w"], 1.0)
  ckpt.save(2, tree(5.0))  # the step can be written again
  ckpt.close()
  assert checkpointing.saved_steps(str(saved)) == [1, 2]


def test_every_step_damaged(saved):
  for step in ("1", "2"):
    delete_manifest(saved / "checkpoints" / step)
  ckpt = checkpointing.Checkpointer(str(saved))
  step, damaged = ckpt.newest_intact_step(tree())
  assert step is None and sorted(damaged) == [1, 2]
  ckpt.close()


def test_checkpoint_of_another_shape_is_a_mismatch_not_damage(saved):
  other = tree()
  other["params"]["w"] = np.zeros((64, 32), np.float32)
  ckpt = checkpointing.Checkpointer(str(saved))
  with pytest.raises(errors.WorkdirError,
                     match=r"step 2 .* does not fit this config \(params\.w: "
                           r"float32\[64, 64\] on disk, float32\[64, 32\]"):
    ckpt.newest_intact_step(other)
  ckpt.close()


def test_unfinished_saves_are_removed(saved):
  stale = saved / "checkpoints" / "3.orbax-checkpoint-tmp-17"
  (stale / "default").mkdir(parents=True)
  ckpt = checkpointing.Checkpointer(str(saved))
  assert ckpt.remove_unfinished_saves() == [str(stale)]
  assert sorted(os.listdir(saved / "checkpoints")) == ["1", "2"]
  ckpt.close()


def test_read_only_checkpointer_creates_nothing(tmp_path):
  ckpt = checkpointing.Checkpointer(str(tmp_path / "run"), read_only=True)
  assert ckpt.newest_intact_step(tree()) == (None, {})
  ckpt.close()
  assert not os.path.exists(tmp_path / "run")
