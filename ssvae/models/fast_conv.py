"""Convolutions in forms XLA:CPU runs fast: flax's layers, same function.

`Conv` and `ConvTranspose` are drop-ins for flax.linen.Conv and
flax.linen.ConvTranspose with padding='SAME' (transpose_kernel=False, no
dilation, NHWC): the same parameters ('kernel' [kh, kw, C_in, C_out], 'bias'
[C_out]) with the same names, shapes and initialisers (lecun_normal, zeros),
so initial values and checkpoints are identical whichever `impl` computes
them. Every impl computes the same function (the same products, summed in
another order: results agree to float32 rounding; tests/fast_conv_test.py).

ConvTranspose impls:
  xla: lax.conv_transpose, what flax does: a convolution over the input
    dilated by the stride (s - 1 zeros between pixels), so at stride 2 three
    quarters of the multiply-adds hit inserted zeros, and XLA:CPU runs its
    gradients in slow generic loops.
  subpixel: a stride-1 convolution of the undilated input to s*s*C_out
    channels, then depth-to-space (Shi et al. 2016). Output pixel s*m + r
    (per spatial dimension) of the transposed conv is
      sum over taps t with (r + t - pad) % s == 0 of w[t] x[m + (r + t - pad) / s]
    with pad lax's leading SAME padding of the dilated input. Every tap t
    lands in exactly one phase r, so the stride-1 kernel K[d, r] = w[t]
    (d = (r + t - pad) / s - d_min; zero where no tap lands) is a
    rearrangement of w plus zeros, built from the parameters in the forward
    pass; the kernel gradient is K's gradient gathered back. At stride 1
    this is the plain convolution.
  shifted_sum: subpixel, with the stride-1 convolution computed as one
    matmul of the input with every tap and a sum of shifted slices
    (shifted_sum_conv), for layers with few output channels.

Conv impls:
  xla: lax.conv_general_dilated, what flax does.
  space_to_depth_grad: the forward pass and the kernel gradient as xla; the
    input gradient as the gradient of the space-to-depth form of the strided
    convolution (a stride-1 convolution over s*s*C_in channels, no dilated
    input), where XLA:CPU's own (an input-dilated convolution) is slow. At
    stride 1 it is xla.
"""

import functools
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ssvae import model_spec

Array = jax.Array

# One layer's impls; model_spec.XLA is flax's own. What a whole model's
# conv_impl takes is model_spec.CONV_IMPL_MODES (use_cpu_forms).
SUBPIXEL = "subpixel"
SHIFTED_SUM = "shifted_sum"
SPACE_TO_DEPTH_GRAD = "space_to_depth_grad"
TRANSPOSE_IMPLS = (model_spec.XLA, SUBPIXEL, SHIFTED_SUM)
CONV_IMPLS = (model_spec.XLA, SPACE_TO_DEPTH_GRAD)

_DIMENSION_NUMBERS = ("NHWC", "HWIO", "NHWC")


def same_padding(kernel: int, stride: int) -> tuple[int, int]:
  """lax.conv_transpose's (before, after) padding of the dilated input for
  padding='SAME' (jax._src.lax.convolution._conv_transpose_padding)."""
  pad_len = kernel + stride - 2
  pad_a = kernel - 1 if stride > kernel - 1 else -(-pad_len // 2)
  return pad_a, pad_len - pad_a


def phase_taps(kernel: int, stride: int) -> tuple[int, np.ndarray]:
  """(d_min, taps): taps[r, d] = the kernel tap t that output phase r reads
  at input offset d_min + d, or `kernel` (an index of a zero tap) if none."""
  pad_a, _ = same_padding(kernel, stride)
  offsets = {}
  for r in range(stride):
    for t in range(kernel):
      if (r + t - pad_a) % stride == 0:
        offsets[(r, (r + t - pad_a) // stride)] = t
  d_min = min(d for _, d in offsets)
  d_max = max(d for _, d in offsets)
  taps = np.full((stride, d_max - d_min + 1), kernel, np.int32)
  for (r, d), t in offsets.items():
    taps[r, d - d_min] = t
  return d_min, taps


def subpixel_kernel(kernel: Array, strides: tuple) -> Array:
  """[kh, kw, I, O] transposed-conv kernel -> [dh, dw, I, sh*sw*O] kernel of
  the stride-1 conv whose output channels are ordered (phase_h, phase_w, O)."""
  (kh, kw, cin, cout), (sh, sw) = kernel.shape, strides
  _, taps_h = phase_taps(kh, sh)  # [sh, dh]
  _, taps_w = phase_taps(kw, sw)  # [sw, dw]
  padded = jnp.pad(kernel, ((0, 1), (0, 1), (0, 0), (0, 0)))  # zero taps
  k = padded[taps_h[:, :, None, None], taps_w[None, None, :, :]]
  # k: [sh, dh, sw, dw, I, O] -> [dh, dw, I, sh, sw, O]
  k = k.transpose(1, 3, 4, 0, 2, 5)
  return k.reshape(k.shape[:3] + (sh * sw * cout,))


def depth_to_space(x: Array, strides: tuple) -> Array:
  """[B, H, W, sh*sw*C] (channels ordered (phase_h, phase_w, C)) ->
  [B, sh*H, sw*W, C]."""
  b, h, w, c = x.shape
  sh, sw = strides
  x = x.reshape(b, h, w, sh, sw, c // (sh * sw))
  x = x.transpose(0, 1, 3, 2, 4, 5)
  return x.reshape(b, h * sh, w * sw, c // (sh * sw))


def shifted_sum_conv(x: Array, kernel: Array, padding: tuple) -> Array:
  """Stride-1 correlation of NHWC x with HWIO kernel and explicit padding
  ((top, bottom), (left, right)), computed as one matmul of x with every tap
  ([B, H, W, kh*kw*O]) and a sum of kh*kw shifted slices of it.

  For few output channels: XLA:CPU's convolution is slow there (C_out = 1
  runs at a few percent of its speed at 64 channels), while the matmul and
  the shifted sum are cheap. The same sums in another order.
  """
  kh, kw, _, cout = kernel.shape
  (top, bottom), (left, right) = padding
  taps = jnp.einsum("bhwi,tsio->bhwtso", x, kernel)
  taps = jnp.pad(taps, ((0, 0), (top, bottom), (left, right), (0, 0), (0, 0),
                        (0, 0)))
  out_h = x.shape[1] + top + bottom - kh + 1
  out_w = x.shape[2] + left + right - kw + 1
  return sum(taps[:, t:t + out_h, s:s + out_w, t, s, :]
             for t in range(kh) for s in range(kw))


def subpixel_conv_transpose(x: Array, kernel: Array, strides: tuple,
                            shifted_sum: bool = False) -> Array:
  """lax.conv_transpose(x, kernel, strides, 'SAME') for NHWC x and HWIO
  kernel, computed as a stride-1 conv + depth-to-space (module docstring);
  shifted_sum=True computes the stride-1 conv by shifted_sum_conv."""
  (kh, kw), (sh, sw) = kernel.shape[:2], strides
  (dmin_h, taps_h), (dmin_w, taps_w) = (phase_taps(kh, sh),
                                        phase_taps(kw, sw))
  # Input offsets d_min .. d_max around each pixel: pad -d_min before and
  # d_max after.
  padding = ((-dmin_h, dmin_h + taps_h.shape[1] - 1),
             (-dmin_w, dmin_w + taps_w.shape[1] - 1))
  if min(min(p) for p in padding) < 0:
    raise NotImplementedError(
        f"sub-pixel form of a {kh}x{kw} stride-{strides} transposed conv "
        f"needs cropping (padding {padding}).")
  kernel = subpixel_kernel(kernel, strides)
  if shifted_sum:
    y = shifted_sum_conv(x, kernel, padding)
  else:
    y = jax.lax.conv_general_dilated(
        x, kernel, window_strides=(1, 1), padding=padding,
        dimension_numbers=("NHWC", "HWIO", "NHWC"))
  assert y.shape[1:3] == x.shape[1:3], (y.shape, x.shape)
  return depth_to_space(y, strides) if (sh, sw) != (1, 1) else y


def use_cpu_forms(conv_impl: str) -> bool:
  """Whether a model with this conv_impl uses the CPU forms (at trace time:
  AUTO asks jax's default backend)."""
  if conv_impl == model_spec.AUTO:
    return jax.default_backend() == "cpu"
  return conv_impl == model_spec.CPU


def conv_transpose_same(x: Array, kernel: Array, strides: tuple,
                        impl: str = model_spec.XLA) -> Array:
  """lax.conv_transpose(x, kernel, strides, 'SAME') computed by `impl`."""
  strides = tuple(strides)
  if impl == model_spec.XLA:
    return jax.lax.conv_transpose(x, kernel, strides, "SAME")
  if impl in (SUBPIXEL, SHIFTED_SUM):
    return subpixel_conv_transpose(x, kernel, strides,
                                   shifted_sum=impl == SHIFTED_SUM)
  raise ValueError(f"ConvTranspose impl={impl!r} is not one of "
                   f"{TRANSPOSE_IMPLS}.")


def xla_conv(x: Array, kernel: Array, strides: tuple) -> Array:
  """lax.conv_general_dilated with SAME padding, as flax.linen.Conv."""
  return jax.lax.conv_general_dilated(x, kernel, tuple(strides), "SAME",
                                      dimension_numbers=_DIMENSION_NUMBERS)


def space_to_depth_conv(x: Array, kernel: Array, strides: tuple) -> Array:
  """xla_conv(x, kernel, strides) as a VALID stride-1 convolution of the
  space-to-depth input.

  With lax's SAME padding (lo before) and x padded to xp, output m reads
  xp[s*m + t] for taps t = s*a + r (a = t // s, r = t % s), which is
  X2[m + a, r] for X2 = space_to_depth(xp): a ceil(k/s)-tap kernel over
  s*s*C_in channels, K2[a, r] = w[s*a + r] (zero where s*a + r >= k).
  """
  (kh, kw), (sh, sw) = kernel.shape[:2], tuple(strides)
  b, h, w, cin = x.shape
  pads, sizes, taps = [], [], []
  for n, k, s in ((h, kh, sh), (w, kw, sw)):
    out = -(-n // s)
    lo = max((out - 1) * s + k - n, 0) // 2  # lax's SAME: extra on the right
    a = -(-k // s)
    total = (out - 1 + a) * s
    pads.append((lo, total - n - lo))
    sizes.append(total // s)
    taps.append(a)
  xp = jnp.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
  x2 = xp.reshape(b, sizes[0], sh, sizes[1], sw, cin)
  x2 = x2.transpose(0, 1, 3, 2, 4, 5).reshape(b, sizes[0], sizes[1],
                                              sh * sw * cin)
  (ah, aw) = taps
  kp = jnp.pad(kernel, ((0, ah * sh - kh), (0, aw * sw - kw), (0, 0), (0, 0)))
  k2 = kp.reshape(ah, sh, aw, sw, cin, -1).transpose(0, 2, 1, 3, 4, 5)
  k2 = k2.reshape(ah, aw, sh * sw * cin, -1)
  return jax.lax.conv_general_dilated(x2, k2, (1, 1), "VALID",
                                      dimension_numbers=_DIMENSION_NUMBERS)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def space_to_depth_grad_conv(x: Array, kernel: Array, strides: tuple) -> Array:
  """xla_conv, whose input gradient is space_to_depth_conv's (the same
  linear map of x, so the same gradient up to float32 rounding)."""
  return xla_conv(x, kernel, strides)


def _s2d_forward(x, kernel, strides):
  return xla_conv(x, kernel, strides), (x, kernel)


def _s2d_backward(strides, residuals, g):
  x, kernel = residuals
  dx = jax.vjp(lambda x: space_to_depth_conv(x, kernel, strides), x)[1](g)[0]
  dk = jax.vjp(lambda k: xla_conv(x, k, strides), kernel)[1](g)[0]
  return dx, dk


space_to_depth_grad_conv.defvjp(_s2d_forward, _s2d_backward)


def conv_same(x: Array, kernel: Array, strides: tuple,
              impl: str = model_spec.XLA) -> Array:
  """SAME convolution (flax.linen.Conv's) computed by `impl`."""
  strides = tuple(strides)
  if impl == model_spec.XLA or strides == (1, 1):
    return xla_conv(x, kernel, strides)
  if impl == SPACE_TO_DEPTH_GRAD:
    return space_to_depth_grad_conv(x, kernel, strides)
  raise ValueError(f"Conv impl={impl!r} is not one of {CONV_IMPLS}.")


class _SameConv(nn.Module):
  """Parameters of flax's Conv / ConvTranspose; subclasses compute."""
  features: int
  kernel_size: tuple
  strides: tuple = (1, 1)
  impl: str = model_spec.XLA
  kernel_init: Callable = nn.initializers.lecun_normal()
  bias_init: Callable = nn.initializers.zeros_init()

  def _params(self, x: Array) -> tuple[Array, Array]:
    kernel = self.param("kernel", self.kernel_init,
                        tuple(self.kernel_size) + (x.shape[-1], self.features),
                        jnp.float32)
    bias = self.param("bias", self.bias_init, (self.features,), jnp.float32)
    return kernel, bias


class Conv(_SameConv):
  """flax.linen.Conv(features, kernel_size, strides, padding='SAME'),
  computed by impl (one of CONV_IMPLS)."""

  @nn.compact
  def __call__(self, x: Array) -> Array:
    kernel, bias = self._params(x)
    return conv_same(x, kernel, self.strides, self.impl) + bias


class ConvTranspose(_SameConv):
  """flax.linen.ConvTranspose(features, kernel_size, strides,
  padding='SAME'), computed by impl (one of TRANSPOSE_IMPLS)."""

  @nn.compact
  def __call__(self, x: Array) -> Array:
    kernel, bias = self._params(x)
    return conv_transpose_same(x, kernel, self.strides, self.impl) + bias
