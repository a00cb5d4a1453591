r"""PyTorch references for the benchmarks: the same model and step, eager.

Not part of ssvae (torch is not a dependency): run as one more worker by a
Python that has torch (`--torch_python`), e.g.

  python3 -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install torch
  python -m benchmarks.train_step --torch_python=/tmp/torchvenv/bin/python
  python -m benchmarks.train_step --family=cnn \
      --torch_python=/tmp/torchvenv/bin/python

--family=cnn: the paper's semi-supervised CNN as configs/mnist_cnn.py builds
it (Table 14: three 3x3 convs of 64, strides 1-1-2, BatchNorm after each, one
dense layer of 512 with BatchNorm and dropout 0.25, heads mu / log-variance
(2) and class logits (10); decoder Dense(14*14*64) + BatchNorm, transposed
convs 64-64-64 with strides 1-1-2 and BatchNorm, a 3x3 transposed conv to 1
channel). Modes: NCHW ("eager") and channels_last memory format
("eager_cl").
--family=dense: the paper's dense model as configs/mnist_dense.py builds it
(Table 13: 784-1024-1024-{2, 2, 10}, relu; the decoder its mirror from
concat(z, softmax(y))). Mode: "eager".
Both: Bernoulli likelihood, ELBO + alpha * cross-entropy on the labeled
half, RMSprop (decay 0.9, momentum 0.9, lr 1e-3), binary 28x28 inputs, one
fixed batch; and "matmul", the float32 GEMM rate (--matmul_size^2 matmuls,
2048 by default). Speaks benchmarks/worker_protocol.py on stdin/stdout;
imports nothing from ssvae or jax.

Alone, with --steps=N, it times each mode once for N steps instead and
prints them; the last line is `examples_per_s=<best eager mode>
eager_examples_per_s=... [eager_cl_examples_per_s=...] matmul_gflops=...`.
Smoke runs (tests/benchmarks_test.py):

  python -m benchmarks.torch_step --steps=1 --batch_size=2 --matmul_size=64
  python -m benchmarks.torch_step --family=dense --steps=1 --batch_size=2 \
      --matmul_size=64
"""

import argparse
import time

import torch
from torch import nn
import torch.nn.functional as F

from benchmarks import worker_protocol

LATENT, CLASSES, ALPHA = 2, 10, 100.0


class PaperCnn(nn.Module):

  def __init__(self):
    super().__init__()
    channels, strides = (64, 64, 64), (1, 1, 2)
    self.enc = nn.ModuleList()
    c_in = 1
    for c, s in zip(channels, strides):
      self.enc.append(nn.Sequential(nn.Conv2d(c_in, c, 3, s, 1),
                                    nn.BatchNorm2d(c), nn.ReLU()))
      c_in = c
    self.enc_dense = nn.Sequential(nn.Linear(14 * 14 * 64, 512),
                                   nn.BatchNorm1d(512), nn.ReLU(),
                                   nn.Dropout(0.25))
    self.heads = nn.Linear(512, 2 * LATENT + CLASSES)
    self.dec_dense = nn.Sequential(nn.Linear(LATENT + CLASSES, 14 * 14 * 64),
                                   nn.BatchNorm1d(14 * 14 * 64), nn.ReLU(),
                                   nn.Dropout(0.25))
    self.dec = nn.ModuleList()
    for c, s in zip(channels, strides):
      self.dec.append(nn.Sequential(
          nn.ConvTranspose2d(64, c, 3, s, 1, output_padding=s - 1),
          nn.BatchNorm2d(c), nn.ReLU()))
    self.out = nn.ConvTranspose2d(64, 1, 3, 1, 1)

  def forward(self, x):
    h = x
    for layer in self.enc:
      h = layer(h)
    h = self.enc_dense(h.flatten(1))
    mu, logvar, logits = self.heads(h).split([LATENT, LATENT, CLASSES], 1)
    z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
    h = self.dec_dense(torch.cat([z, F.softmax(logits, 1)], 1))
    h = h.view(-1, 64, 14, 14)
    if x.is_contiguous(memory_format=torch.channels_last):
      h = h.contiguous(memory_format=torch.channels_last)
    for layer in self.dec:
      h = layer(h)
    return self.out(h), mu, logvar, logits


class PaperDense(nn.Module):

  def __init__(self, hidden=(1024, 1024), input_dim=28 * 28):
    super().__init__()
    sizes = (input_dim, *hidden)
    self.enc = nn.Sequential(*[
        layer for a, b in zip(sizes[:-1], sizes[1:])
        for layer in (nn.Linear(a, b), nn.ReLU())])
    self.heads = nn.Linear(hidden[-1], 2 * LATENT + CLASSES)
    sizes = (LATENT + CLASSES, *hidden[::-1])
    self.dec = nn.Sequential(*[
        layer for a, b in zip(sizes[:-1], sizes[1:])
        for layer in (nn.Linear(a, b), nn.ReLU())])
    self.out = nn.Linear(hidden[0], input_dim)

  def forward(self, x):
    h = self.enc(x.flatten(1))
    mu, logvar, logits = self.heads(h).split([LATENT, LATENT, CLASSES], 1)
    z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
    h = self.dec(torch.cat([z, F.softmax(logits, 1)], 1))
    return self.out(h).view_as(x), mu, logvar, logits


MODELS = {"cnn": PaperCnn, "dense": PaperDense}


def loss_fn(model, x, y, labeled):
  recon_logits, mu, logvar, logits = model(x)
  recon = F.binary_cross_entropy_with_logits(
      recon_logits, x, reduction="none").flatten(1).sum(1)
  kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)
  ce = F.cross_entropy(logits, y, reduction="none")
  return ((recon + kl).mean()
          + ALPHA * (ce * labeled).sum() / labeled.sum().clamp(min=1))


def runner(family: str, batch_size: int, channels_last: bool):
  torch.manual_seed(0)
  model = MODELS[family]()
  x = (torch.rand(batch_size, 1, 28, 28) < 0.2).float()
  if channels_last:
    model = model.to(memory_format=torch.channels_last)
    x = x.contiguous(memory_format=torch.channels_last)
  y = torch.randint(0, CLASSES, (batch_size,))
  labeled = (torch.arange(batch_size) < batch_size // 2).float()
  opt = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9,
                            momentum=0.9)
  model.train()

  def run(steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
      opt.zero_grad(set_to_none=True)
      loss_fn(model, x, y, labeled).backward()
      opt.step()
    return (time.perf_counter() - start) / steps

  start = time.perf_counter()
  run(2)  # warm up
  return run, time.perf_counter() - start


def matmul_runner(n: int = 2048):
  """conv_step's "matmul" mode: seconds per n x n float32 matmul."""
  a, b = torch.randn(n, n), torch.randn(n, n)

  def run(count: int) -> float:
    start = time.perf_counter()
    c = a
    for _ in range(count):
      c = (c @ b) * 1e-3
    return (time.perf_counter() - start) / count

  start = time.perf_counter()
  run(1)
  return run, time.perf_counter() - start


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument("--family", choices=sorted(MODELS), default="cnn")
  parser.add_argument("--batch_size", type=int, default=64)
  parser.add_argument("--matmul_size", type=int, default=2048,
                      help="Side of the matmul mode's square matrices.")
  parser.add_argument("--steps", type=int, default=0,
                      help="0: serve the worker protocol; N: time each mode "
                      "for N steps and print the results.")
  args = parser.parse_args()
  runners = {"eager": runner(args.family, args.batch_size, False)}
  if args.family == "cnn":
    runners["eager_cl"] = runner(args.family, args.batch_size, True)
  runners["matmul"] = matmul_runner(args.matmul_size)
  eager_modes = [mode for mode in runners if mode != "matmul"]
  about = f"torch {torch.__version__}, {torch.get_num_threads()} threads"
  if args.steps <= 0:
    worker_protocol.serve(runners, about)
    return
  seconds = {mode: run(args.steps) for mode, (run, _) in runners.items()}
  rates = {mode: args.batch_size / seconds[mode] for mode in eager_modes}
  gflops = 2 * args.matmul_size**3 / seconds["matmul"] / 1e9
  print(f"{about}; {args.family}, batch {args.batch_size}, {args.steps} "
        "steps per mode")
  for mode, rate in rates.items():
    print(f"  {mode:9s} {seconds[mode] * 1e3:8.1f} ms/step "
          f"{rate:8.1f} examples/s")
  print(f"  matmul    {gflops:8.1f} GFLOP/s ({args.matmul_size}^2)")
  print(f"examples_per_s={max(rates.values()):.1f} "
        + "".join(f"{mode}_examples_per_s={rate:.1f} "
                  for mode, rate in rates.items())
        + f"matmul_gflops={gflops:.2f}")


if __name__ == "__main__":
  main()
