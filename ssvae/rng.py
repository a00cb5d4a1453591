"""The one place where random keys are derived from a run's seed.

Every random stream of a run (parameter init, training batches and noise,
evaluation noise, anomaly-score samples, feedback scoring, ...) is

    fold_in(jax.random.key(seed), STREAMS[name])

so a stream depends only on the seed and its name: a seed trains the same
alone or vmapped with others, and adding a stream never shifts another.
Within a stream, callers fold in a step or batch index (`fold_in(key, step)`).
"""

import jax
import jax.numpy as jnp

# Stream ids are part of the results' random streams: never renumber one.
STREAMS = {
    "params": 0,     # model.init (params, latent, dropout)
    "train": 1,      # batches and per-step noise: fold_in(key, step)
    "eval": 2,       # ELBO noise of periodic evaluation, per split and batch
    "anomaly": 3,    # Monte-Carlo samples of the anomaly score
    "feedback": 4,   # scoring inside the feedback protocol
    "generate": 5,   # sample grids
}


def seed_key(seed: int, stream: str) -> jax.Array:
  """The typed key of `stream` for run `seed`."""
  if stream not in STREAMS:
    raise ValueError(f"Unknown random stream {stream!r}; expected one of "
                     f"{tuple(STREAMS)}.")
  return jax.random.fold_in(jax.random.key(seed), STREAMS[stream])


def seed_keys(seeds, stream: str) -> jax.Array:
  """`seed_key` for every seed, stacked: [S] typed keys."""
  return jnp.stack([seed_key(int(s), stream) for s in seeds])
