"""Tests for class-conditional sample grids, latent traversals and PNG output."""

import math
import struct

import jax
import jax.numpy as jnp
from matplotlib import image as mpl_image
import numpy as np
import pytest

from ssvae.reports import generation

H, W = 4, 3


def class_in_pixels_decoder(z, y):
  """Bernoulli logits: channel 0 = class index, channel 1 = z[0], [B, H, W, 2]."""
  class_index = jnp.argmax(y, axis=-1).astype(jnp.float32)
  planes = jnp.stack([class_index, z[:, 0]], axis=-1)  # [B, 2]
  return jnp.broadcast_to(planes[:, None, None, :], (z.shape[0], H, W, 2)), None


def _logit(p):
  return np.log(p / (1 - p))


def test_class_conditional_samples_rows_are_classes():
  images = generation.class_conditional_samples(
      class_in_pixels_decoder, jax.random.key(0), num_classes=3,
      num_per_class=5, latent_dim=2)
  assert images.shape == (3, 5, H, W, 2)
  # Bernoulli: images are sigmoid(logits), so logit(image) recovers the class.
  for r in range(3):
    np.testing.assert_allclose(_logit(images[r, :, :, :, 0]), r, atol=1e-4)
  assert np.all((images > 0) & (images < 1))


def test_shared_latents_repeat_across_rows_and_come_from_the_prior():
  images = generation.class_conditional_samples(
      class_in_pixels_decoder, jax.random.key(1), 3, 400, 2)
  z0 = _logit(images[..., 0, 0, 1].astype(np.float64))  # [3, 400]
  np.testing.assert_allclose(z0[0], z0[2], atol=1e-4)
  assert abs(z0[0].mean()) < 0.2 and abs(z0[0].std() - 1) < 0.15
  independent = generation.class_conditional_samples(
      class_in_pixels_decoder, jax.random.key(1), 3, 4, 2, share_latents=False)
  assert not np.allclose(independent[0, :, 0, 0, 1], independent[1, :, 0, 0, 1])


def test_gaussian_decoder_returns_mean_unchanged():
  def decode_fn(z, y):
    mean = jnp.broadcast_to((10.0 * jnp.argmax(y, -1))[:, None, None, None],
                            (z.shape[0], H, W, 1))
    return mean, jnp.ones_like(mean)

  images = generation.class_conditional_samples(decode_fn, jax.random.key(0),
                                                2, 3, (5, 2))
  assert images.shape == (2, 3, H, W, 1)
  np.testing.assert_allclose(images[1], 10.0)


def test_latent_traversal_grid_layout():
  seen = {}

  def decode_fn(z, y):
    seen["y"] = y
    return jnp.broadcast_to(z[:, None, None, :], (z.shape[0], H, W, 2)), None

  grid = generation.latent_traversal(decode_fn, class_index=2, num_classes=4,
                                     grid_size=3, span=1.5)
  assert grid.shape == (3, 3, H, W, 2)
  z = _logit(grid[:, :, 0, 0, :].astype(np.float64))  # [row, col, 2]
  np.testing.assert_allclose(z[0, :, 0], [-1.5, 0.0, 1.5], atol=1e-4)
  np.testing.assert_allclose(z[:, 0, 1], [1.5, 0.0, -1.5], atol=1e-4)
  np.testing.assert_allclose(seen["y"], np.tile([0, 0, 1, 0], (9, 1)))


def test_latent_traversal_without_class_input():
  def decode_fn(z, y):
    assert y is None
    return jnp.zeros((z.shape[0], H, W, 1)), None

  grid = generation.latent_traversal(decode_fn, None, 0, 2)
  np.testing.assert_allclose(grid, 0.5)


def test_decoder_failure_is_reported_with_shapes():
  def decode_fn(z, y):
    del y
    return jnp.dot(z, jnp.ones((5, 3))), None  # expects latent_dim 5

  with pytest.raises(ValueError, match=r"latent_dim 2.*z of shape \(4, 2\)"):
    generation.latent_traversal(decode_fn, 0, 3, 2)


@pytest.mark.parametrize("kwargs, message", [
    (dict(class_index=3, num_classes=3, grid_size=2), "outside 0..2"),
    (dict(class_index=0, num_classes=3, grid_size=0), "grid_size"),
    (dict(class_index=0, num_classes=3, grid_size=2, span=0.0), "span"),
])
def test_latent_traversal_argument_errors(kwargs, message):
  with pytest.raises(ValueError, match=message):
    generation.latent_traversal(class_in_pixels_decoder, **kwargs)


def _png_size(path):
  data = path.read_bytes()
  assert data[:8] == b"\x89PNG\r\n\x1a\n"
  assert data[12:16] == b"IHDR"
  return struct.unpack(">II", data[16:24])  # width, height


def test_save_image_grid_writes_png_with_mosaic_proportions(tmp_path):
  rows, cols, h, w = 3, 5, 8, 6
  # Row r is uniformly r / (rows - 1): dark to bright from top to bottom.
  images = np.broadcast_to(
      np.linspace(0, 1, rows)[:, None, None, None, None], (rows, cols, h, w, 1))
  path = generation.save_image_grid(images, tmp_path / "sub" / "grid.png")
  width, height = _png_size(path)
  expected_ratio = (cols * w + cols - 1) / (rows * h + rows - 1)
  assert math.isclose(width / height, expected_ratio, rel_tol=0.02)
  assert height >= rows * h  # small images are not shrunk
  pixels = mpl_image.imread(path)[..., :3].mean(axis=-1)  # [height, width]
  row_centers = [int((r + 0.5) * height / rows) for r in range(rows)]
  brightness = pixels[row_centers, width // 4]
  np.testing.assert_allclose(brightness, [0.0, 0.5, 1.0], atol=0.02)


def test_save_image_grid_labels_and_title_add_margins(tmp_path):
  images = np.zeros((2, 3, 10, 10, 3))
  plain = _png_size(generation.save_image_grid(images, tmp_path / "a.png"))
  labeled = _png_size(generation.save_image_grid(
      images, tmp_path / "b.png", row_labels=["WALKING", "LAYING"],
      title="samples"))
  assert labeled[0] > plain[0] and labeled[1] > plain[1]


@pytest.mark.parametrize("images, kwargs, message", [
    (np.zeros((2, 3, 4, 4)), {}, "rows, cols, height, width, channels"),
    (np.zeros((2, 3, 4, 4, 2)), {}, "1 or 3 channels"),
    (np.zeros((2, 3, 4, 4, 1)), dict(row_labels=["a"]), "1 row_labels for 2"),
    (np.full((1, 1, 2, 2, 1), np.nan), {}, "non-finite"),
])
def test_save_image_grid_errors(tmp_path, images, kwargs, message):
  with pytest.raises(ValueError, match=message):
    generation.save_image_grid(images, tmp_path / "x.png", **kwargs)


def test_traversal_rows_are_labeled_with_their_z1_top_to_bottom():
  assert generation.traversal_row_labels(3, 2.0) == [
      "z1 = +2.00", "z1 = +0.00", "z1 = -2.00"]
