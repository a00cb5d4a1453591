r"""Use the semi-supervised VAE's loss in your own Flax model.

Start from any encoder you already have (here `SmallConvNet`, a plain conv
net standing in for yours). Fork its features into the heads the paper adds:

  * the y-layer: class logits, trained on the few labeled points;
  * mu and log-variance of a latent code z;

and add a decoder that reconstructs x from concat(z, softmax(y)). Then
`ssvae.ssvae_loss` gives  reconstruction + KL + alpha * cross-entropy  on
batches that `ssvae.sample_batch` fills half with labeled and half with
unlabeled points. The unlabeled half trains the classifier too: the decoder
needs a y that helps it reconstruct.

On scikit-learn's 8x8 digits with 100 labels (10 per digit) out of 1500
training images; about half a minute on 2 CPU cores:

  python examples/bring_your_own_model.py [--num_steps=1000]
"""

import argparse
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn import datasets

import ssvae

NUM_TRAIN = 1500
NUM_CLASSES = 10
NUM_LABELS = 100
BATCH_SIZE = 64  # 32 labeled + 32 unlabeled
ALPHA = 10.0  # weight of the labeled cross-entropy


class SmallConvNet(nn.Module):
  """Someone else's model: a small conv net that maps images to features."""

  @nn.compact
  def __call__(self, x):
    x = nn.relu(nn.Conv(16, (3, 3))(x))
    x = nn.relu(nn.Conv(32, (3, 3), strides=2)(x))
    x = x.reshape(x.shape[0], -1)
    return nn.relu(nn.Dense(128)(x))


class WithYLayerAndDecoder(nn.Module):
  """The conv net plus the paper's heads and a decoder of concat(z, y)."""
  image_shape: tuple
  num_classes: int
  latent_dim: int = 4

  @nn.compact
  def __call__(self, x, z_rng):
    features = SmallConvNet()(x)
    class_logits = nn.Dense(self.num_classes, name="y_layer")(features)
    z_mean = nn.Dense(self.latent_dim, name="z_mean")(features)
    z_logvar = nn.Dense(self.latent_dim, name="z_logvar")(features)
    eps = jax.random.normal(z_rng, z_mean.shape)
    z = z_mean + jnp.exp(0.5 * z_logvar) * eps
    y = jax.nn.softmax(class_logits)
    h = nn.relu(nn.Dense(128)(jnp.concatenate([z, y], axis=-1)))
    recon_logits = nn.Dense(math.prod(self.image_shape))(h)
    return {"class_logits": class_logits, "z_mean": z_mean,
            "z_logvar": z_logvar,
            "recon_loc": recon_logits.reshape(x.shape)}  # Bernoulli logits


def load_digits():
  """x float32 [N, 8, 8, 1] in [0, 1], y int32 [N]; train, then test."""
  digits = datasets.load_digits()
  x = (digits.images / 16.0).astype(np.float32)[..., None]
  y = digits.target.astype(np.int32)
  return (x[:NUM_TRAIN], y[:NUM_TRAIN]), (x[NUM_TRAIN:], y[NUM_TRAIN:])


def main(num_steps: int) -> float:
  (x_train, y_train), (x_test, y_test) = load_digits()
  labeled = ssvae.select_labeled_indices(
      y_train, num_labels=NUM_LABELS, num_classes=NUM_CLASSES, seed=0)
  pools = ssvae.make_pools(len(x_train), labeled, "semi_supervised")
  mode = ssvae.sampling_mode("semi_supervised", len(labeled), len(x_train))
  model = WithYLayerAndDecoder(image_shape=x_train.shape[1:],
                               num_classes=NUM_CLASSES)
  init_key, z_key, train_key = jax.random.split(jax.random.key(0), 3)
  params = model.init(init_key, x_train[:2], z_key)["params"]
  tx = optax.adam(1e-3)
  opt_state = tx.init(params)
  x_train, y_train = jnp.asarray(x_train), jnp.asarray(y_train)

  def loss_fn(params, batch, z_rng):
    outputs = model.apply({"params": params}, batch["x"], z_rng)
    return ssvae.ssvae_loss(x=batch["x"], labels=batch["label"],
                            label_mask=batch["label_mask"], **outputs,
                            alpha=ALPHA)

  @jax.jit
  def train_step(params, opt_state, key):
    batch_key, z_rng = jax.random.split(key)
    batch = ssvae.sample_batch(batch_key, x_train, y_train, pools,
                               BATCH_SIZE, mode)
    (loss, terms), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        params, batch, z_rng)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss, terms

  @jax.jit
  def predict(params, x):
    return jnp.argmax(model.apply({"params": params}, x, z_key)[
        "class_logits"], axis=-1)

  for step in range(1, num_steps + 1):
    params, opt_state, loss, terms = train_step(
        params, opt_state, jax.random.fold_in(train_key, step))
    if step % max(1, num_steps // 5) == 0 or step == num_steps:
      print(f"step {step:5d}  loss {float(loss):8.3f}  reconstruction "
            f"{float(terms['reconstruction']):7.3f}  kl "
            f"{float(terms['kl']):6.3f}  cross-entropy "
            f"{float(terms['classification']):6.3f}")
  accuracy = float(jnp.mean(predict(params, x_test) == y_test))
  print(f"test accuracy: {accuracy:.4f} ({len(y_test)} test digits; "
        f"{NUM_LABELS} of {NUM_TRAIN} training digits labeled)")
  return accuracy


if __name__ == "__main__":
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--num_steps", type=int, default=1000)
  main(parser.parse_args().num_steps)
