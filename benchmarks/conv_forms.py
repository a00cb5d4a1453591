r"""Forward + both gradients of one 3x3 stride-1 SAME conv (NHWC) in three
forms, alternating: lax.conv (XLA:CPU's Eigen kernel under ssvae's flags),
fast_conv.shifted_sum_conv (one matmul with every tap, a sum of shifted
slices) and im2col (9 shifted copies concatenated, one matmul).

  python -m benchmarks.conv_forms BATCH SIDE C_IN C_OUT   # e.g. 64 28 64 64
  python -m benchmarks.conv_forms 2 8 4 4   # smoke run (tests/benchmarks_test.py)

Prints the largest |weight-gradient difference| from lax.conv and the best
time and GFLOP/s of each form over 5 rounds of 5 calls; the last line is
`examples_per_s=<BATCH / the fastest form's best time> fastest=<its name>
gflops=<its GFLOP/s>` (an example: one image through forward + both
gradients).
"""
import sys, time
import ssvae  # sets the library's XLA flags
import jax, jax.numpy as jnp
from ssvae.models import fast_conv

B, H, C, O = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
x = jax.random.normal(jax.random.key(0), (B, H, H, C))
w = jax.random.normal(jax.random.key(1), (3, 3, C, O)) * 0.1

def lax_conv(x, w):
  return jax.lax.conv_general_dilated(x, w, (1, 1), "SAME",
      dimension_numbers=("NHWC", "HWIO", "NHWC"))
def shifted(x, w):
  return fast_conv.shifted_sum_conv(x, w, ((1, 1), (1, 1)))
def im2col(x, w):
  xp = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
  patches = jnp.concatenate([xp[:, t:t + H, s:s + H, :] for t in range(3) for s in range(3)], -1)
  return patches @ w.reshape(9 * C, O)

fns = {}
for name, f in [("lax", lax_conv), ("shifted", shifted), ("im2col", im2col)]:
  g = jax.jit(jax.value_and_grad(lambda x, w, f=f: jnp.sum(f(x, w) ** 2), argnums=(0, 1)))
  jax.block_until_ready(g(x, w)); fns[name] = g
ref = fns["lax"](x, w)
for n, g in fns.items():
  out = g(x, w); print(n, "max |dW diff|", float(jnp.max(jnp.abs(out[1][1] - ref[1][1]))))
times = {n: [] for n in fns}
for _ in range(5):
  for n, g in fns.items():
    t = time.perf_counter()
    for _ in range(5): r = g(x, w)
    jax.block_until_ready(r); times[n].append((time.perf_counter() - t) / 5)
flops = 3 * 2 * B * H * H * C * O * 9
for n, v in times.items():
  print(f"{n:8s} best {min(v)*1e3:7.1f} ms  {flops / min(v) / 1e9:6.1f} GFLOP/s")
fastest = min(times, key=lambda n: min(times[n]))
best = min(times[fastest])
print(f"examples_per_s={B / best:.1f} fastest={fastest} "
      f"gflops={flops / best / 1e9:.2f}")
