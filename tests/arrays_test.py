"""Tests for ssvae.data.arrays: training on a user's own array files."""

import csv
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from sklearn import metrics as sklearn_metrics

from configs import arrays as arrays_config
from experiments import make_sensor_windows
from ssvae import data as data_lib
from ssvae import errors
from ssvae import experiment as experiment_lib
from ssvae import model_spec
from ssvae import models
from ssvae import steps
from ssvae import train
from ssvae.data import array_files
from ssvae.data import arrays
from ssvae.metrics import experiment_metrics

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def data_config(train_path, test_path, **fields):
  return ml_collections.ConfigDict({
      "name": "arrays", "source": "auto", "train_path": str(train_path),
      "test_path": str(test_path), "likelihood": "auto", "num_classes": 0,
      **fields})


def series(n, seed=0):
  return np.random.default_rng(seed).normal(size=(n, 6, 2)).astype(np.float32)


@pytest.fixture
def files(tmp_path):
  y = np.array([0, -1, 1, -1, 2, -1, -1, -1], np.int32)
  np.savez(tmp_path / "train.npz", x=series(8), y=y)
  np.save(tmp_path / "test.npy", series(4, seed=1))
  return tmp_path / "train.npz", tmp_path / "test.npy"


def test_npz_labels_and_an_unlabeled_npy(files):
  dataset = arrays.load(data_config(*files))
  assert dataset.input_shape == (6, 2)
  assert dataset.num_classes == 3 and dataset.likelihood == "gaussian"
  np.testing.assert_array_equal(dataset.train.y, [0, -1, 1, -1, 2, -1, -1, -1])
  np.testing.assert_array_equal(dataset.test.y, [-1] * 4)
  assert arrays.load(data_config(*files, num_classes=5)).num_classes == 5


def test_images_choose_their_likelihood_and_uint8_is_scaled(tmp_path):
  images = np.random.default_rng(0).integers(0, 256, (5, 4, 4), np.uint8)
  np.save(tmp_path / "a.npy", images)
  dataset = arrays.load(data_config(tmp_path / "a.npy", tmp_path / "a.npy"))
  assert dataset.input_shape == (4, 4, 1)
  assert dataset.likelihood == "bernoulli"
  np.testing.assert_allclose(dataset.train.x[..., 0], images / 255.0,
                             rtol=1e-6)
  np.save(tmp_path / "b.npy", 3.0 * np.ones((5, 4, 4, 1), np.float32))
  assert arrays.load(data_config(tmp_path / "b.npy", tmp_path / "b.npy")
                     ).likelihood == "gaussian"
  with pytest.raises(errors.ConfigError, match="needs inputs in"):
    arrays.load(data_config(tmp_path / "b.npy", tmp_path / "b.npy",
                            likelihood="bernoulli"))


@pytest.mark.parametrize("train_arrays, message", [
    (dict(x=series(3), y=np.zeros(3)), "float64 values; expected integer"),
    (dict(x=series(3), y=np.array([0, -2, 1])), "holds label -2"),
    (dict(x=series(3), y=np.zeros(2, int)), r"expected one label per input"),
    (dict(x=series(3), labels=np.zeros(3, int)), r"expected 'x'"),
    (dict(x=np.zeros((3, 4))), r"shape \(3, 4\); expected images"),
    (dict(x=np.full((3, 6, 2), np.nan)), "NaN or infinite"),
])
def test_bad_files_are_named(tmp_path, train_arrays, message):
  np.savez(tmp_path / "train.npz", **train_arrays)
  np.save(tmp_path / "test.npy", series(2))
  with pytest.raises(array_files.ArrayFileError, match=message):
    arrays.load(data_config(tmp_path / "train.npz", tmp_path / "test.npy"))


def test_bad_settings_are_named(files, tmp_path):
  train_path, test_path = files
  with pytest.raises(errors.ConfigError, match="data.test_path is empty"):
    arrays.load(data_config(train_path, ""))
  with pytest.raises(errors.ConfigError, match="expected a .npy or .npz"):
    arrays.load(data_config(train_path, tmp_path / "test.csv"))
  with pytest.raises(errors.ConfigError, match="files hold label 2"):
    arrays.load(data_config(train_path, test_path, num_classes=2))
  np.save(tmp_path / "other.npy", np.zeros((2, 5, 2), np.float32))
  with pytest.raises(array_files.ArrayFileError, match="both splits need"):
    arrays.load(data_config(train_path, tmp_path / "other.npy"))


def test_labels_are_drawn_from_the_labeled_points_only():
  y = np.array([0, -1, 1, -1, 0, 1, -1, 0], np.int32)
  np.testing.assert_array_equal(data_lib.labeled_rows(y), [0, 2, 4, 5, 7])
  np.testing.assert_array_equal(
      data_lib.select_labeled_indices(y, num_labels=-1, num_classes=2,
                                      seed=0), [0, 2, 4, 5, 7])
  for seed in range(5):
    chosen = data_lib.select_labeled_indices(y, num_labels=4, num_classes=2,
                                             seed=seed)
    assert (y[chosen] >= 0).all() and sorted(y[chosen]) == [0, 0, 1, 1]
  with pytest.raises(errors.ConfigError,
                     match="only 5 labeled training points \\(of 8\\)"):
    data_lib.select_labeled_indices(y, num_labels=6, num_classes=2, seed=0)


def test_accuracy_and_log_loss_count_labeled_points_only():
  config = arrays_config.get_config()
  config.model.family = "dense"
  model = models.build_model(config.model, input_shape=(6, 2),
                             num_classes=3, likelihood="gaussian")
  x, y = jnp.asarray(series(8)), jnp.array([0, -1, 1, -1, 2, 2, -1, 0])
  state = steps.init_state(model, steps.make_optimizer(config.optimizer),
                           jax.random.key(0), x)
  key = jax.random.key(1)
  eval_sums = lambda x, y: steps.eval_sums(state, x, y, key, model=model,
                                           likelihood="gaussian")
  means = experiment_metrics.per_point_means(eval_sums(x, y))
  keep = np.asarray(y) >= 0
  labeled_only = experiment_metrics.per_point_means(eval_sums(x[keep], y[keep]))
  for name in ("accuracy", "log_loss"):
    np.testing.assert_allclose(means[name], labeled_only[name], rtol=1e-5)
  assert set(experiment_metrics.per_point_means(eval_sums(x, jnp.full(8, -1)))) == {
      "elbo", "kl", "reconstruction"}


def experiment(tmp_path, variant, labels):
  np.savez(tmp_path / "train.npz", x=series(40),
           y=np.asarray(labels, np.int32))
  np.save(tmp_path / "test.npy", series(10, seed=1))
  config = arrays_config.get_config()
  config.data.train_path = str(tmp_path / "train.npz")
  config.data.test_path = str(tmp_path / "test.npy")
  config.model.variant = variant
  config.train.batch_size = 8
  return experiment_lib.build_experiment(config, devices=jax.devices()[:1])


def test_an_unlabeled_validation_split_selects_on_the_elbo(tmp_path):
  exp = experiment(tmp_path, model_spec.SEMI_SUPERVISED, [-1] * 40)
  assert exp.model.__class__.__name__ == "RnnVAE"  # family 'auto'
  assert exp.sampling_mode == "unlabeled"
  assert train._selection_metric(exp) == "elbo"
  labels = [0, 1] * 10 + [-1] * 20
  assert train._selection_metric(experiment(
      tmp_path, model_spec.SEMI_SUPERVISED, labels)) == "accuracy"
  with pytest.raises(errors.ConfigError, match="no labeled points"):
    train._selection_metric(experiment(tmp_path, model_spec.SUPERVISED,
                                       [0, 1] + [-1] * 38))


def run_module(*args):
  env = dict(os.environ, XLA_FLAGS="", JAX_PLATFORMS="cpu")
  proc = subprocess.run([sys.executable, "-m", *args], cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return proc


def test_sensor_windows_train_and_detect_the_planted_fault(tmp_path):
  """The README walkthrough, small: unlabeled windows, then the detector
  CLI fits a threshold and scores new windows with a planted fault."""
  files = make_sensor_windows.make(num_train=600, num_test=200,
                                   fault_fraction=0.2, label_fraction=0.0,
                                   seed=0)
  make_sensor_windows.write(files, str(tmp_path / "windows"))
  workdir = str(tmp_path / "run")
  run_module("experiments.train", "--config=configs/arrays.py",
             f"--config.data.train_path={tmp_path}/windows/train_x.npy",
             f"--config.data.test_path={tmp_path}/windows/test.npz",
             "--config.model.variant=unsupervised",
             "--config.model.hidden_sizes=(32, 32, 32)",
             "--config.train.num_steps=150", "--config.train.eval_every=50",
             f"--workdir={workdir}")
  out = str(tmp_path / "scores.csv")
  proc = run_module("experiments.detect", f"--workdir={workdir}",
                    f"--data={tmp_path}/windows/new_x.npy",
                    "--target_fpr=0.05", f"--out={out}")
  assert "Saved threshold" in proc.stderr + proc.stdout
  rows = list(csv.DictReader(open(out)))
  scores = np.array([float(r["score"]) for r in rows])
  assert len(scores) == 200
  auc = sklearn_metrics.roc_auc_score(files["new_is_fault.npy"], scores)
  assert auc > 0.9, auc
