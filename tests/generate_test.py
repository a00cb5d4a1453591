"""Tests for the generation figures of trained runs (ssvae.reports.generation)."""

import json
import os
import pathlib
import re
import subprocess
import sys

import jax
from matplotlib import image as mpl_image
import numpy as np
import pytest

from configs import common
from configs import default
from ssvae import experiment as experiment_lib
from ssvae import train
from ssvae.reports import generation

REPO = pathlib.Path(__file__).resolve().parents[1]

DIGIT_PIXELS = 8
SCALE = 8  # save_image_grid upscales 8x8 images to 64 pixels


def tiny_config(**model_overrides):
  config = common.tiny(default.base_config())
  config.model.hidden_sizes = (32,)
  config.model.update(model_overrides)
  config.data.num_labels = 50
  config.train.steps_per_call = 10
  config.train.checkpoint_every = 10
  return config


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """(workdir, exp, state) of a finished tiny semi_supervised run."""
  workdir = str(tmp_path_factory.mktemp("semi"))
  run = train.train(tiny_config(), workdir, devices=jax.devices()[:1])
  exp, state = run.exp, run.last
  return workdir, exp, state


@pytest.fixture
def semi_run(trained):
  return trained[0]


def mosaic_pixels(count: int, gap: int = 1) -> int:
  return (count * DIGIT_PIXELS + (count - 1) * gap) * SCALE


def test_writes_class_grid_and_one_traversal_per_class(semi_run):
  """Goes through load_run; the PNGs land in WORKDIR/figures by default."""
  paths = generation.write_generation_figures(
      semi_run, num_per_class=6, traversal_classes=[0, 7], grid_size=5)
  assert {str(p.parent) for p in paths} == {os.path.join(semi_run, "figures")}
  names = [p.name for p in paths]
  assert names == ["class_conditional_seed0.png",
                   "latent_traversal_class0_seed0.png",
                   "latent_traversal_class7_seed0.png"]
  grid = mpl_image.imread(paths[0])
  # 10 digit rows under a title; 6 columns right of the row labels.
  assert grid.shape[0] == mosaic_pixels(10) + 30
  assert mosaic_pixels(6) < grid.shape[1] < mosaic_pixels(6) + 60
  assert grid[..., :3].std() > 0.05  # not a blank image
  for path in paths[1:]:
    traversal = mpl_image.imread(path)
    assert traversal.shape[0] == mosaic_pixels(5) + 30
    assert traversal.shape[1] >= mosaic_pixels(5)


def test_default_traversals_cover_every_class(trained, tmp_path):
  _, exp, state = trained
  paths = generation.figures_from_state(exp, state, str(tmp_path), grid_size=3,
                                      num_per_class=2)
  assert len(paths) == 1 + 10
  assert [p.name for p in paths[1:]] == [
      f"latent_traversal_class{c}_seed0.png" for c in range(10)]
  assert all(p.stat().st_size > 500 for p in paths)


def test_no_traversal_without_2d_latent(tmp_path):
  exp = experiment_lib.build_experiment(tiny_config(latent_dim=3),
                                        jax.devices()[:1])
  paths = generation.figures_from_state(
      exp, experiment_lib.init_train_state(exp), str(tmp_path),
      num_per_class=3)
  assert [p.name for p in paths] == ["class_conditional_seed0.png"]


@pytest.mark.parametrize("variant, reason", [
    ("unsupervised", "no class input"), ("supervised", "no decoder")])
def test_variants_without_class_conditional_decoder_are_refused(
    semi_run, tmp_path, variant, reason):
  config = json.load(open(os.path.join(semi_run, "config.json")))
  config["model"]["variant"] = variant
  (tmp_path / "config.json").write_text(json.dumps(config))
  with pytest.raises(ValueError, match=f"variant='{variant}'.*{reason}"):
    generation.write_generation_figures(str(tmp_path))


def test_bad_seed_index_and_class_are_named(trained, tmp_path):
  _, exp, state = trained
  with pytest.raises(ValueError, match=r"seed_index=1 is outside 0\.\.0"):
    generation.figures_from_state(exp, state, str(tmp_path), seed_index=1)
  with pytest.raises(ValueError, match="traversal class 10 is outside"):
    generation.figures_from_state(exp, state, str(tmp_path),
                                traversal_classes=[10])
  assert not list(tmp_path.iterdir())  # refused before writing anything


def test_missing_run_directory(tmp_path):
  with pytest.raises(FileNotFoundError, match="config.json not found"):
    generation.write_generation_figures(str(tmp_path / "nope"))


def test_state_last_draws_from_the_last_state(trained, tmp_path):
  workdir, exp, last = trained
  [from_workdir] = generation.write_generation_figures(
      workdir, str(tmp_path / "cli"), state="last", num_per_class=3,
      traversal_classes=[])
  [direct] = generation.figures_from_state(exp, last, str(tmp_path / "direct"),
                                           num_per_class=3,
                                           traversal_classes=[])
  np.testing.assert_array_equal(mpl_image.imread(from_workdir),
                                mpl_image.imread(direct))


def test_cli_prints_the_paths_without_info_logs(semi_run, tmp_path):
  out = tmp_path / "figs"
  proc = subprocess.run(
      [sys.executable, "-m", "experiments.generate", f"--workdir={semi_run}",
       f"--out={out}", "--state=last", "--num_per_class=2",
       "--traversal_classes=3", "--grid_size=3"],
      cwd=REPO, capture_output=True, text=True, check=False,
      env=dict(os.environ, XLA_FLAGS="", JAX_PLATFORMS="cpu"))
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert proc.stdout.split() == [str(out / "class_conditional_seed0.png"),
                                 str(out / "latent_traversal_class3_seed0.png")]
  info = [l for l in proc.stderr.splitlines() if re.match(r"I\d{4} ", l)]
  assert not info, info
