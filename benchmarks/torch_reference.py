"""The PyTorch side of the core benchmark: the EnergyFlow paper network and its workloads.

efjax's own PyTorch rendering of the network in the paper authors' public code (a
Diffusion-Policy temporal UNet with FiLM turned into a scalar energy), written from
its architecture: 4,812,032 parameters for observations 39 x 2 and action chunks
4 x 16. The score is -dE/da, so a DSM training step differentiates twice.

    python benchmarks/torch_reference.py                  # every workload, JSON lines
    python benchmarks/torch_reference.py --only train     # one workload
    python benchmarks/torch_reference.py --compile        # torch.compile (inductor)
    python benchmarks/torch_reference.py --params         # 4812032
    python benchmarks/torch_reference.py --serve          # a warm worker (benchmarks/core.py)

`--serve` reads one JSON request a line on stdin ({"workload": ..., "warmup": ...,
"repeats": ...}) and answers each with one JSON line on stdout, so that
`benchmarks/core.py --compare_torch` can interleave this process with efjax's in rounds.

Needs torch (`pip install torch==2.13.0`: the CPU build; an unpinned torch pulls a
CUDA build of several GB).
"""
import argparse
import json
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

# The paper's Meta-World shapes and hyper-parameters.
OBS_DIM, OBS_HORIZON, ACT_DIM, ACT_HORIZON = 39, 2, 4, 16
WIDTHS = (64, 128, 256)          # channels of the UNet levels
KERNEL_SIZE, NUM_GROUPS = 5, 8
EMBED = 128                      # time-embedding and observation-feature width
HEAD = (256, 128)                # energy head hidden widths
SIGMA_MIN, SIGMA_MAX = 0.01, 10.0
LR, WEIGHT_DECAY, CLIP = 1e-4, 1e-6, 1.0
STEPS, T_FINAL = 20, 1e-3        # Euler PF-ODE: 20 steps from t = 1 down to 1e-3
WORKLOADS = ("matmul_peak", "train", "sample_b1", "sample_b256", "energy")
BATCH = dict(train=256, sample_b1=1, sample_b256=256, energy=4096)


def ve_sigma(t):
  """VE noise scale at t in [0, 1]: geometric from SIGMA_MIN to SIGMA_MAX."""
  return SIGMA_MIN * (SIGMA_MAX / SIGMA_MIN) ** t


class SpectralLinear(nn.Module):
  """y = x (W / sigma)^T + b, sigma = u . (W v) from the buffers u [out], v [in].

  In training mode each forward pass first refreshes (v, u) by one power iteration
  (v = W^T u / |.|, then u = W v / |.|, without gradient), as the authors' network does.
  """

  def __init__(self, n_in, n_out, bias=True, eps=1e-12):
    super().__init__()
    self.linear, self.eps = nn.Linear(n_in, n_out, bias=bias), eps
    with torch.no_grad():
      w = self.linear.weight
      u = F.normalize(torch.randn(n_out), dim=0, eps=eps)
      for _ in range(15):
        v = F.normalize(w.t() @ u, dim=0, eps=eps)
        u = F.normalize(w @ v, dim=0, eps=eps)
    self.register_buffer("u", u)
    self.register_buffer("v", v)

  def forward(self, x):
    w = self.linear.weight
    if self.training:
      with torch.no_grad():
        self.v.copy_(F.normalize(w.t() @ self.u, dim=0, eps=self.eps))
        self.u.copy_(F.normalize(w @ self.v, dim=0, eps=self.eps))
    sigma = torch.dot(self.u, w @ self.v)
    return F.linear(x, w / sigma, self.linear.bias)


class FourierTime(nn.Module):
  """t [B] -> [B, 128]: sin and cos at 64 geometric frequencies, Linear, softplus, Linear."""

  def __init__(self, width=EMBED):
    super().__init__()
    half = width // 2
    self.register_buffer("frequencies",
                         torch.exp(-math.log(10000.0) / half * torch.arange(half)),
                         persistent=False)
    self.fc1, self.fc2 = nn.Linear(width, width), nn.Linear(width, width)

  def forward(self, t):
    phase = t.unsqueeze(-1) * self.frequencies
    return self.fc2(F.softplus(self.fc1(torch.cat([phase.sin(), phase.cos()], dim=-1))))


class NormedConv(nn.Module):
  """Conv1d with same padding, GroupNorm, softplus over [B, C, T]."""

  def __init__(self, c_in, c_out):
    super().__init__()
    self.conv = nn.Conv1d(c_in, c_out, KERNEL_SIZE, padding=KERNEL_SIZE // 2)
    self.norm = nn.GroupNorm(NUM_GROUPS, c_out)

  def forward(self, x):
    return F.softplus(self.norm(self.conv(x)))


class ResidualFiLM(nn.Module):
  """NormedConv, modulated by (1 + scale, shift) of the conditioning, NormedConv, + skip."""

  def __init__(self, c_in, c_out, cond_dim=2 * EMBED):
    super().__init__()
    self.conv_a, self.conv_b = NormedConv(c_in, c_out), NormedConv(c_out, c_out)
    self.modulation = nn.Linear(cond_dim, 2 * c_out)
    self.shortcut = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else None

  def forward(self, x, cond):
    scale, shift = self.modulation(cond).unsqueeze(-1).chunk(2, dim=1)
    h = self.conv_b(self.conv_a(x) * (1.0 + scale) + shift)
    return h + (x if self.shortcut is None else self.shortcut(x))


class EnergyUNet(nn.Module):
  """E(a, s, t): actions [B, 16, 4], observations [B, 2, 39], t [B] in [0, 1] -> [B]."""

  def __init__(self):
    super().__init__()
    self.state_mlp = nn.ModuleList([nn.Linear(OBS_DIM * OBS_HORIZON, EMBED),
                                    nn.Linear(EMBED, EMBED)])
    self.time_mlp = FourierTime()
    chans = (ACT_DIM,) + WIDTHS
    # Encoder: two FiLM blocks per level; after each level but the last a strided conv
    # halves the sequence (16 -> 8 -> 4).
    self.encoder = nn.ModuleList()
    self.downsample = nn.ModuleList()
    for level, (c_in, c_out) in enumerate(zip(chans[:-1], chans[1:])):
      self.encoder.append(nn.ModuleList([ResidualFiLM(c_in, c_out), ResidualFiLM(c_out, c_out)]))
      if level < len(WIDTHS) - 1:
        self.downsample.append(nn.Conv1d(c_out, c_out, 3, stride=2, padding=1))
    self.bottleneck = nn.ModuleList([ResidualFiLM(WIDTHS[-1], WIDTHS[-1]) for _ in range(2)])
    # Decoder: concatenate the latest unused skip, two FiLM blocks, nearest-neighbour x2
    # and a k=3 conv. The first level's skip (T=16) is never consumed.
    self.decoder = nn.ModuleList()
    self.upsample = nn.ModuleList()
    for c_small, c_big in reversed(list(zip(WIDTHS[:-1], WIDTHS[1:]))):
      self.decoder.append(nn.ModuleList([ResidualFiLM(2 * c_big, c_small),
                                         ResidualFiLM(c_small, c_small)]))
      self.upsample.append(nn.Conv1d(c_small, c_small, 3, padding=1))
    # Energy head: spectral-normalized Linear layers on the time-averaged features,
    # the last one to a scalar without bias.
    sizes = (WIDTHS[0],) + HEAD + (1,)
    self.head = nn.ModuleList([
        SpectralLinear(n_in, n_out, bias=i < len(HEAD))
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]))])

  def conditioning(self, obs, t):
    s = obs.reshape(obs.shape[0], -1)
    for layer in self.state_mlp:
      s = F.softplus(layer(s))
    return torch.cat([s, self.time_mlp(t)], dim=-1)

  def forward(self, actions, obs, t):
    cond = self.conditioning(obs, t)
    x, skips = actions.transpose(1, 2), []          # [B, C, T]
    for level, (first, second) in enumerate(self.encoder):
      x = second(first(x, cond), cond)
      skips.append(x)
      if level < len(self.downsample):
        x = self.downsample[level](x)
    for block in self.bottleneck:
      x = block(x, cond)
    for (first, second), up in zip(self.decoder, self.upsample):
      x = torch.cat([x, skips.pop()], dim=1)
      x = second(first(x, cond), cond)
      x = up(F.interpolate(x, scale_factor=2.0, mode="nearest"))
    h = x.mean(dim=-1)
    for i, layer in enumerate(self.head):
      h = layer(h)
      if i < len(self.head) - 1:
        h = F.softplus(h)
    return h.squeeze(-1)


def efjax_names(net):
  """{torch state_dict key: (efjax variable path, transform)} for `efjax.networks`' paper UNet.

  efjax paths are '/'-joined (e.g. 'params/backbone/Conv1D_0/kernel'); the transform
  turns the efjax array into the torch tensor's layout (Linear kernels [in, out] ->
  [out, in], conv kernels [K, C_in, C_out] -> [C_out, C_in, K]).
  """
  linear = lambda w: w.T  # noqa: E731
  conv = lambda w: w.transpose(2, 1, 0)  # noqa: E731
  keep = lambda w: w  # noqa: E731
  names = {}

  def dense(torch_prefix, efjax_prefix, bias=True):
    names[f"{torch_prefix}.weight"] = (f"{efjax_prefix}/kernel", linear)
    if bias:
      names[f"{torch_prefix}.bias"] = (f"{efjax_prefix}/bias", keep)

  def conv1d(torch_prefix, efjax_prefix):
    names[f"{torch_prefix}.weight"] = (f"{efjax_prefix}/kernel", conv)
    names[f"{torch_prefix}.bias"] = (f"{efjax_prefix}/bias", keep)

  dense("state_mlp.0", "params/obs_encoder/dense_0")
  dense("state_mlp.1", "params/obs_encoder/dense_1")
  dense("time_mlp.fc1", "params/time_embedding/MLP_0/dense_0")
  dense("time_mlp.fc2", "params/time_embedding/MLP_0/dense_1")
  # efjax names FiLM blocks and bare convs in creation order: encoder, bottleneck, decoder;
  # within a level the outer call `second(first(x))` is constructed first.
  blocks = ([f"encoder.{i}.{j}" for i in range(len(net.encoder)) for j in (1, 0)]
            + [f"bottleneck.{i}" for i in range(len(net.bottleneck))]
            + [f"decoder.{i}.{j}" for i in range(len(net.decoder)) for j in (1, 0)])
  for n, prefix in enumerate(blocks):
    block, src = net.get_submodule(prefix), f"params/backbone/FiLMResBlock_{n}"
    dense(f"{prefix}.modulation", f"{src}/Linear_0")
    for k, part in enumerate(("conv_a", "conv_b")):
      conv1d(f"{prefix}.{part}.conv", f"{src}/ConvBlock_{k}/Conv1D_0")
      names[f"{prefix}.{part}.norm.weight"] = (f"{src}/ConvBlock_{k}/GroupNorm_0/scale", keep)
      names[f"{prefix}.{part}.norm.bias"] = (f"{src}/ConvBlock_{k}/GroupNorm_0/bias", keep)
    if block.shortcut is not None:
      conv1d(f"{prefix}.shortcut", f"{src}/Conv1D_0")
  convs = ([f"downsample.{i}" for i in range(len(net.downsample))]
           + [f"upsample.{i}" for i in range(len(net.upsample))])
  for n, prefix in enumerate(convs):
    conv1d(prefix, f"params/backbone/Conv1D_{n}")
  for i, layer in enumerate(net.head):
    dense(f"head.{i}.linear", f"params/backbone/SpectralLinear_{i}",
          bias=layer.linear.bias is not None)
    names[f"head.{i}.u"] = (f"spectral/backbone/SpectralLinear_{i}/uv/0", keep)
    names[f"head.{i}.v"] = (f"spectral/backbone/SpectralLinear_{i}/uv/1", keep)
  return names


def load_efjax(net, flat):
  """Copies efjax's variables (a {'/'-joined path: numpy array} dict) into `net`."""
  names = efjax_names(net)
  state = net.state_dict()
  missing = sorted(set(state) - set(names))
  if missing:
    raise KeyError(f"no efjax variable for {missing}")
  new = {}
  for key, (path, transform) in names.items():
    value = torch.as_tensor(transform(flat[path]).copy())
    if value.shape != state[key].shape:
      raise ValueError(f"{key}: efjax {path} gives {tuple(value.shape)}, "
                       f"expected {tuple(state[key].shape)}")
    new[key] = value
  net.load_state_dict(new)


def num_params(net) -> int:
  return sum(p.numel() for p in net.parameters())


def score(net, actions, obs, t, create_graph=False):
  """-dE/da [B, 16, 4]; create_graph keeps the graph for a loss on the score."""
  with torch.enable_grad():
    a = actions if actions.requires_grad else actions.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(net(a, obs, t).sum(), a, create_graph=create_graph)
  return -grad


def dsm_loss(net, actions, obs, generator=None):
  """VE denoising score matching, t ~ U[0, 1]: mean over every element of (sigma s + eps)^2."""
  t = torch.rand(actions.shape[0], generator=generator)
  sigma = ve_sigma(t).view(-1, 1, 1)
  eps = torch.randn(actions.shape, generator=generator)
  noisy = (actions + sigma * eps).requires_grad_(True)
  return (sigma * score(net, noisy, obs, t, create_graph=True) + eps).square().mean()


@torch.no_grad()
def sample(net, obs, steps=STEPS, generator=None):
  """Euler on the VE probability-flow ODE, dx/dt = -sigma sigma' score, from t = 1 to T_FINAL."""
  b = obs.shape[0]
  x = SIGMA_MAX * torch.randn(b, ACT_HORIZON, ACT_DIM, generator=generator)
  times = torch.linspace(1.0, T_FINAL, steps + 1)
  log_ratio = math.log(SIGMA_MAX / SIGMA_MIN)
  for k in range(steps):
    t = times[k].expand(b)
    drift = -ve_sigma(t).square().view(-1, 1, 1) * log_ratio * score(net, x, obs, t)
    x = x + (times[k + 1] - times[k]) * drift
  return x


def median_time(fn, warmup, repeats):
  for _ in range(warmup):
    fn()
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return statistics.median(times), times


class Workloads:
  """The benchmark's workloads on one network, warm across calls (for --serve)."""

  def __init__(self, compile_net=False, seed=0):
    torch.manual_seed(seed)
    self.generator = torch.Generator().manual_seed(seed)
    self.net = EnergyUNet()
    self.compiled = compile_net
    # torch.compile (inductor) of the forward; the DSM step's double backward does not
    # compile (donated buffers need create_graph=False), so `train` stays eager.
    self.forward = torch.compile(self.net) if compile_net else self.net
    self.optimizer = torch.optim.AdamW(self.net.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    self.data = {}

  def batch(self, b):
    if b not in self.data:
      g = torch.Generator().manual_seed(b)
      self.data[b] = (torch.randn(b, ACT_HORIZON, ACT_DIM, generator=g),
                      torch.randn(b, OBS_HORIZON, OBS_DIM, generator=g))
    return self.data[b]

  def info(self, **kw):
    kw.update(framework="torch", torch=torch.__version__, threads=torch.get_num_threads(),
              compiled=self.compiled)
    return kw

  def matmul_peak(self, warmup, repeats):
    n = 2048
    x, y = torch.randn(n, n), torch.randn(n, n)
    t, times = median_time(lambda: x @ y, warmup, max(repeats, 10))
    return self.info(workload="matmul_peak", n=n, gflops=2 * n**3 / t / 1e9, seconds=times)

  def train(self, warmup, repeats):
    actions, obs = self.batch(BATCH["train"])
    net, opt = self.net, self.optimizer
    net.train()                 # one power iteration per training forward pass

    def step():
      opt.zero_grad(set_to_none=True)
      dsm_loss(net, actions, obs, self.generator).backward()
      torch.nn.utils.clip_grad_norm_(net.parameters(), CLIP)
      opt.step()
    t, times = median_time(step, warmup, repeats)
    return self.info(workload="train_step", batch=len(actions), samples_per_s=len(actions) / t,
                     step_ms=1e3 * t, seconds=times, compiled=False)

  def _sample(self, b, warmup, repeats):
    _, obs = self.batch(b)
    self.net.eval()
    return median_time(lambda: sample(self.forward, obs, generator=self.generator),
                       warmup, repeats)

  def sample_b1(self, warmup, repeats):
    t, times = self._sample(1, warmup, repeats)
    return self.info(workload="sample_latency", batch=1, ode_steps=STEPS, ms=1e3 * t,
                     seconds=times)

  def sample_b256(self, warmup, repeats):
    b = BATCH["sample_b256"]
    t, times = self._sample(b, warmup, repeats)
    return self.info(workload="sample_throughput", batch=b, ode_steps=STEPS,
                     chunks_per_s=b / t, seconds=times)

  def energy(self, warmup, repeats):
    b = BATCH["energy"]
    actions, obs = self.batch(b)
    t_final = torch.full((b,), T_FINAL)
    self.net.eval()
    with torch.no_grad():
      t, times = median_time(lambda: self.forward(actions, obs, t_final), warmup, repeats)
    return self.info(workload="energy_eval", batch=b, samples_per_s=b / t, seconds=times)

  def run(self, workload, warmup=3, repeats=10):
    if workload not in WORKLOADS:
      raise ValueError(f"unknown workload {workload!r}; one of {WORKLOADS}")
    return getattr(self, workload)(warmup, repeats)


def serve(bench):
  """Answers JSON requests on stdin, one line each, until EOF."""
  for line in sys.stdin:
    if not line.strip():
      continue
    req = json.loads(line)
    try:
      out = bench.run(req["workload"], req.get("warmup", 3), req.get("repeats", 10))
    except Exception as e:  # noqa: BLE001 -- the coordinator reports it
      out = bench.info(workload=req.get("workload"), error=f"{type(e).__name__}: {e}")
    print(json.dumps(out), flush=True)


def main():
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--only", default=",".join(WORKLOADS), help="comma-separated workloads")
  p.add_argument("--warmup", type=int, default=3)
  p.add_argument("--repeats", type=int, default=10)
  p.add_argument("--compile", action="store_true", help="torch.compile the forward pass")
  p.add_argument("--params", action="store_true", help="print the parameter count")
  p.add_argument("--serve", action="store_true", help="answer JSON requests on stdin")
  args = p.parse_args()
  if args.params:
    print(num_params(EnergyUNet()))
    return
  bench = Workloads(args.compile)
  if args.serve:
    print(json.dumps(bench.info(ready=True, params=num_params(bench.net))), flush=True)
    serve(bench)
    return
  for name in args.only.split(","):
    print(json.dumps(bench.run(name, args.warmup, args.repeats)), flush=True)


if __name__ == "__main__":
  main()
