"""Maximum-entropy contextual bandits with a known soft Q: one fixed bandit and a family.

## MaxEntBandit (the core's end-to-end check)

State s ~ U[-1, 1], action a in R, Q(s, a) = 3 cos(2.5 a - 1.5 s) - 0.8 a^2. The expert
is the soft-optimal policy pi(a | s) ∝ exp(Q(s, a) / alpha): two or three modes
whose positions and weights move with s. Since DSM recovers grad_a log pi =
grad_a Q / alpha, a good reward extractor returns Q up to a per-state constant
and a scale. Actions are drawn exactly from a fine grid (categorical over 4001
bins, then uniform within the bin).

## The bandit family (`family_member(seed)`)

Each member has a context s ~ U[-1, 1]^dc (dc in 1..8), actions in the box
[-1, 1]^da (da in 1..6), K in 1..5 modes and a temperature alpha in [0.1, 2]
(log-uniform). Its soft Q is a smoothed maximum of K quadratic bowls

    g_k(s, a) = h_k(s) - |a - c_k(s)|^2 / (2 w_k^2)
    Q(s, a)   = tau log sum_k exp(g_k(s, a) / tau)          (tau = 0.05 <= alpha)

whose centres c_k(s) = 0.7 tanh(W_k s + b_k) and heights h_k(s) = H (1 + sin(u_k . s
+ phi_k)) / 2 move with the context, so which mode dominates changes with s. The
expert is pi(a | s) ∝ exp(Q(s, a) / alpha) on the box.

Exact sampling by rejection under a certified bound: with p = tau / alpha <= 1,
(sum_k x_k)^p <= sum_k x_k^p for x_k >= 0, so

    exp(Q / alpha) <= sum_k exp(g_k / alpha) = sum_k exp(h_k / alpha) N(a; c_k, alpha w_k^2 I) Z_k

a mixture of Gaussians (Z_k = (2 pi alpha w_k^2)^(da/2)). Draw from that mixture, reject
outside the box, and accept with probability exp(Q / alpha) / sum_k exp(g_k / alpha) <= 1:
the accepted actions are exact draws of pi(. | s) (tests/test_bandit.py checks them
against the normalized density on a grid).

The member's demo file is stored in other units than Q: observations and actions go
through a random affine map x_file = x R diag(scale) + offset (R a random rotation,
scales log-uniform in [0.01, 100]); `to_file_*` / `from_file_*` convert. A learned
reward read in file units is compared with Q of the same (s, a).

Seeds: members with seed < HELD_OUT_START are the tuning set, the others held out
(`tuning_seeds`, `held_out_seeds`); nothing may be chosen on the held-out set.
"""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array


@dataclasses.dataclass(frozen=True)
class MaxEntBandit:
  alpha: float = 1.0
  action_low: float = -4.0
  action_high: float = 4.0
  grid_size: int = 4001

  def q(self, s: Array, a: Array) -> Array:
    """s [N], a [N, M] -> Q [N, M]."""
    return 3.0 * jnp.cos(2.5 * a - 1.5 * s[:, None]) - 0.8 * a**2

  def sample_states(self, key: Array, n: int) -> Array:
    """[n] states, U[-1, 1]."""
    return jax.random.uniform(key, (n,), minval=-1.0, maxval=1.0)

  def sample_actions(self, key: Array, s: Array, num: int) -> Array:
    """[N] states -> [N, num] actions from pi(. | s)."""
    grid = jnp.linspace(self.action_low, self.action_high, self.grid_size)
    width = grid[1] - grid[0]
    logits = self.q(s, jnp.broadcast_to(grid, (s.shape[0], self.grid_size))) / self.alpha
    k_cat, k_jit = jax.random.split(key)
    idx = jax.random.categorical(k_cat, logits[:, None, :], axis=-1, shape=(s.shape[0], num))
    jitter = jax.random.uniform(k_jit, idx.shape, minval=-0.5, maxval=0.5) * width
    return grid[idx] + jitter

  def demos(self, key: Array, n: int):
    """n expert pairs: obs [n, 1], actions [n, 1]."""
    k_s, k_a = jax.random.split(key)
    s = self.sample_states(k_s, n)
    return s[:, None], self.sample_actions(k_a, s, 1)


# ---- the family ---------------------------------------------------------------------

HELD_OUT_START = 10_000           # seeds below: tuning set; from here on: held out
FAMILY_RANGES = dict(obs_dim=(1, 8), act_dim=(1, 6), num_modes=(1, 5),
                     temperature=(0.1, 2.0))
COLD_TEMPERATURE = 0.35          # below: a cold member (sharp modes); with 4-5 modes, the
                                  # corner where the defaults read lowest (bandit_family.md)
SMOOTHING = 0.05                  # tau of the smoothed max over bowls (<= every temperature)
HEIGHT = 1.5                      # mode heights move in [0, HEIGHT]
CENTRE_RANGE = 0.7                # centres stay in [-0.7, 0.7]^da inside the box [-1, 1]^da
WIDTH_RANGE = (0.25, 0.5)         # bowl widths w_k
SCALE_RANGE = (0.01, 100.0)       # file units: per-dimension scales, log-uniform


def tuning_seeds(n: int) -> list[int]:
  """The first n members of the tuning set."""
  return list(range(n))


def held_out_seeds(n: int) -> list[int]:
  """The first n members of the held-out set."""
  return list(range(HELD_OUT_START, HELD_OUT_START + n))


def _affine(rng: np.random.Generator, dim: int) -> tuple[np.ndarray, np.ndarray]:
  """A random map x -> x @ matrix + offset: rotation, then per-dimension units and offset."""
  rotation, r = np.linalg.qr(rng.normal(size=(dim, dim)))
  rotation = rotation * np.sign(np.diag(r))              # Haar-distributed
  scale = np.exp(rng.uniform(*np.log(SCALE_RANGE), size=dim))
  offset = scale * rng.normal(0.0, 5.0, size=dim)
  return rotation * scale[None, :], offset


@dataclasses.dataclass(frozen=True, eq=False)
class BanditTask:
  """One member of the family; all arrays float64 numpy (shapes in the field comments)."""
  seed: int
  obs_dim: int                     # dc
  act_dim: int                     # da
  num_modes: int                   # K
  temperature: float               # alpha
  centre_weight: np.ndarray        # [K, da, dc]
  centre_bias: np.ndarray          # [K, da]
  height_weight: np.ndarray        # [K, dc]
  height_phase: np.ndarray         # [K]
  width: np.ndarray                # [K]
  obs_matrix: np.ndarray           # [dc, dc]  file = s @ obs_matrix + obs_offset
  obs_offset: np.ndarray           # [dc]
  act_matrix: np.ndarray           # [da, da]  file = a @ act_matrix + act_offset
  act_offset: np.ndarray           # [da]

  @property
  def split(self) -> str:
    return "tuning" if self.seed < HELD_OUT_START else "held_out"

  def summary(self) -> dict:
    return {"seed": self.seed, "split": self.split, "obs_dim": self.obs_dim,
            "act_dim": self.act_dim, "num_modes": self.num_modes,
            "temperature": self.temperature}

  # -- the soft Q --------------------------------------------------------------------
  def centres(self, s: np.ndarray) -> np.ndarray:
    """s [S, dc] -> c [S, K, da]."""
    return CENTRE_RANGE * np.tanh(np.einsum("kad,sd->ska", self.centre_weight, s)
                                  + self.centre_bias)

  def heights(self, s: np.ndarray) -> np.ndarray:
    """s [S, dc] -> h [S, K] in [0, HEIGHT]."""
    return HEIGHT * 0.5 * (1.0 + np.sin(s @ self.height_weight.T + self.height_phase))

  def bowls(self, s: np.ndarray, a: np.ndarray) -> np.ndarray:
    """s [S, dc], a [S, N, da] -> g [S, N, K]."""
    d2 = np.sum(np.square(a[:, :, None, :] - self.centres(s)[:, None]), -1)
    return self.heights(s)[:, None, :] - d2 / (2.0 * np.square(self.width))

  def q(self, s: np.ndarray, a: np.ndarray) -> np.ndarray:
    """The soft Q: s [S, dc], a [S, N, da] (Q units) -> [S, N]."""
    g = self.bowls(s, a) / SMOOTHING
    top = g.max(-1)
    return SMOOTHING * (top + np.log(np.exp(g - top[..., None]).sum(-1)))

  def log_density(self, s: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Unnormalized log pi(a | s) = Q / alpha inside the box, -inf outside: [S, N]."""
    inside = np.all(np.abs(a) <= 1.0, axis=-1)
    return np.where(inside, self.q(s, a) / self.temperature, -np.inf)

  # -- sampling ------------------------------------------------------------------------
  def sample_states(self, rng: np.random.Generator, n: int) -> np.ndarray:
    """[n, dc], U[-1, 1]^dc."""
    return rng.uniform(-1.0, 1.0, size=(n, self.obs_dim))

  def sample_actions(self, rng: np.random.Generator, s: np.ndarray, num: int) -> np.ndarray:
    """num exact draws of pi(. | s) per state: s [S, dc] -> [S, num, da] (rejection, see the
    module doc)."""
    alpha, w = self.temperature, self.width
    centres, heights = self.centres(s), self.heights(s)                  # [S, K, da], [S, K]
    log_mix = heights / alpha + self.act_dim * np.log(w)[None]           # mixture weights
    mix = np.exp(log_mix - log_mix.max(-1, keepdims=True))
    mix /= mix.sum(-1, keepdims=True)
    out = np.empty((s.shape[0], num, self.act_dim))
    need = np.full(s.shape[0], num)
    while need.any():
      rows = np.repeat(np.arange(s.shape[0]), 2 * need + 8)              # over-propose
      k = _categorical(rng, mix[rows])
      a = centres[rows, k] + rng.normal(size=(rows.size, self.act_dim)) * (
          w[k] * np.sqrt(alpha))[:, None]
      inside = np.all(np.abs(a) <= 1.0, -1)
      g = self.bowls(s[rows], a[:, None])[:, 0] / alpha                  # [R, K]
      log_bound = _logsumexp(g)
      log_target = self.q(s[rows], a[:, None])[:, 0] / alpha
      accept = inside & (np.log(rng.uniform(size=rows.size)) < log_target - log_bound)
      rows, a = rows[accept], a[accept]                                  # rows stay sorted
      rank = np.arange(rows.size) - np.searchsorted(rows, rows)          # k-th accepted of its row
      keep = rank < need[rows]
      rows, rank, a = rows[keep], rank[keep], a[keep]
      out[rows, num - need[rows] + rank] = a
      need -= np.bincount(rows, minlength=s.shape[0])
    return out

  # -- file units ----------------------------------------------------------------------
  def to_file_obs(self, s: np.ndarray) -> np.ndarray:
    return s @ self.obs_matrix + self.obs_offset

  def to_file_actions(self, a: np.ndarray) -> np.ndarray:
    return a @ self.act_matrix + self.act_offset

  def from_file_obs(self, x: np.ndarray) -> np.ndarray:
    return (x - self.obs_offset) @ np.linalg.inv(self.obs_matrix)

  def from_file_actions(self, x: np.ndarray) -> np.ndarray:
    return (x - self.act_offset) @ np.linalg.inv(self.act_matrix)


def _categorical(rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
  """One index per row of probabilities p [R, K] -> [R]."""
  u = rng.uniform(size=(p.shape[0], 1))
  return np.minimum((np.cumsum(p, -1) < u).sum(-1), p.shape[1] - 1)


def _logsumexp(x: np.ndarray) -> np.ndarray:
  top = x.max(-1)
  return top + np.log(np.exp(x - top[..., None]).sum(-1))


def family_member(seed: int, obs_dim: int | None = None, act_dim: int | None = None,
                  num_modes: int | None = None, temperature: float | None = None) -> BanditTask:
  """The family member of `seed`; a size or temperature given here replaces the drawn one
  (for tests), the rest of the member is still a function of the seed."""
  if seed < 0:
    raise ValueError(f"bandit family seeds are >= 0, got {seed}")
  rng = np.random.default_rng([0xBA4D17, seed])
  r = FAMILY_RANGES
  drawn = dict(obs_dim=int(rng.integers(r["obs_dim"][0], r["obs_dim"][1] + 1)),
               act_dim=int(rng.integers(r["act_dim"][0], r["act_dim"][1] + 1)),
               num_modes=int(rng.integers(r["num_modes"][0], r["num_modes"][1] + 1)),
               temperature=float(np.exp(rng.uniform(*np.log(r["temperature"])))))
  given = dict(obs_dim=obs_dim, act_dim=act_dim, num_modes=num_modes, temperature=temperature)
  sizes = {k: drawn[k] if v is None else v for k, v in given.items()}
  for key, (lo, hi) in r.items():
    if not lo <= sizes[key] <= hi:
      raise ValueError(f"bandit family {key} must be in [{lo}, {hi}], got {sizes[key]}")
  dc, da, k = sizes["obs_dim"], sizes["act_dim"], sizes["num_modes"]
  obs_matrix, obs_offset = _affine(rng, dc)
  act_matrix, act_offset = _affine(rng, da)
  return BanditTask(
      seed=seed, obs_dim=dc, act_dim=da, num_modes=k, temperature=float(sizes["temperature"]),
      centre_weight=rng.normal(0.0, 1.5 / np.sqrt(dc), size=(k, da, dc)),
      centre_bias=rng.normal(0.0, 0.5, size=(k, da)),
      height_weight=rng.normal(0.0, 2.0 / np.sqrt(dc), size=(k, dc)),
      height_phase=rng.uniform(0.0, 2.0 * np.pi, size=k),
      width=rng.uniform(*WIDTH_RANGE, size=k),
      obs_matrix=obs_matrix, obs_offset=obs_offset,
      act_matrix=act_matrix, act_offset=act_offset)
