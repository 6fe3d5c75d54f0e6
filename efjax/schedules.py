"""Noise schedules: the noised action is x_t = alpha(t) a + sigma(t) eps, t in [0, 1].

One schedule object is queried by the loss (training-noise distribution,
`sigma`, `alpha`), by every sampler (prior, probability-flow ODE drift) and by the
rewards (the noise level a reward is read at). The network is always conditioned
on t in [0, 1], whatever the schedule.

- VE (the EnergyFlow paper): alpha = 1, sigma(t) = sigma_min (sigma_max/sigma_min)^t,
  t ~ U[0, 1].
- VP (DDPM's continuous limit, linear beta): alpha^2 + sigma^2 = 1.
- VE log-normal: VE's sigma(t), training sigma log-normal(P_mean, P_std) as EDM's.
- EDM (Karras et al. 2022): alpha = 1, sigma(t) = (s_min^(1/rho) + t (s_max^(1/rho)
  - s_min^(1/rho)))^rho, training sigma log-normal(P_mean, P_std).

In every case the conditional score of x_t given a is -eps / sigma(t), so the DSM
target has the same form (sigma * score + eps = 0) for all of them.
"""
import dataclasses
import math

import jax
import jax.numpy as jnp
import ml_collections

from efjax.registry import Registry

Array = jax.Array
SCHEDULES: Registry[type] = Registry("noise schedule")


class Schedule:
  """Base class: subclasses define `sigma`, `alpha` and optionally `sample_t`."""

  def sigma(self, t: Array) -> Array:
    raise NotImplementedError

  def alpha(self, t: Array) -> Array:
    return jnp.ones_like(t)

  def sample_t(self, key: Array, shape) -> Array:
    """Training noise levels, t ~ U[0, 1] unless the schedule says otherwise."""
    return jax.random.uniform(key, shape)

  def t_of_sigma(self, sigma: Array) -> Array:
    """Inverse of sigma(t) on [0, 1] (bisection; sigma is increasing). Clipped to [0, 1]."""
    sigma = jnp.asarray(sigma, jnp.float32)

    def step(_, bounds):
      lo, hi = bounds
      mid = 0.5 * (lo + hi)
      above = self.sigma(mid) > sigma
      return jnp.where(above, lo, mid), jnp.where(above, mid, hi)
    lo, hi = jax.lax.fori_loop(0, 40, step, (jnp.zeros_like(sigma), jnp.ones_like(sigma)))
    return 0.5 * (lo + hi)

  def prior(self, key: Array, shape) -> Array:
    """A draw from (approximately) the marginal at t = 1: alpha(1) mean 0, sigma(1) noise."""
    return self.sigma(jnp.float32(1.0)) * jax.random.normal(key, shape)

  def ode_drift(self, x: Array, score: Array, t: Array) -> Array:
    """dx/dt of the probability-flow ODE at x [B, ...] with score [B, ...], t [B].

    For x_t = alpha a + sigma eps: dx/dt = (alpha'/alpha) x
    - (sigma sigma' - (alpha'/alpha) sigma^2) score.
    """
    alpha, dalpha = jax.jvp(self.alpha, (t,), (jnp.ones_like(t),))
    sigma, dsigma = jax.jvp(self.sigma, (t,), (jnp.ones_like(t),))
    f = dalpha / alpha
    g2_half = sigma * dsigma - f * sigma**2
    expand = lambda v: v.reshape(v.shape + (1,) * (x.ndim - v.ndim))  # noqa: E731
    return expand(f) * x - expand(g2_half) * score


@SCHEDULES.register("ve")
@dataclasses.dataclass(frozen=True)
class VESchedule(Schedule):
  sigma_min: float = 0.01
  sigma_max: float = 10.0

  def sigma(self, t):
    return self.sigma_min * (self.sigma_max / self.sigma_min) ** t

  def t_of_sigma(self, sigma):
    t = jnp.log(jnp.asarray(sigma, jnp.float32) / self.sigma_min) / jnp.log(
        self.sigma_max / self.sigma_min)
    return jnp.clip(t, 0.0, 1.0)


@SCHEDULES.register("ve_lognormal")
@dataclasses.dataclass(frozen=True)
class VELogNormalSchedule(VESchedule):
  """VE's sigma(t), with EDM's training levels: log sigma ~ N(p_mean, p_std^2), clipped to
  [sigma_min, sigma_max] (the default puts the median at sigma 0.30, where the defaults
  read the reward: t = 0.5 is sigma 0.32). Sampling and reading are VE's."""
  p_mean: float = -1.2
  p_std: float = 1.2

  def sample_t(self, key, shape):
    return _log_normal_t(self, key, shape)


@SCHEDULES.register("vp")
@dataclasses.dataclass(frozen=True)
class VPSchedule(Schedule):
  """Linear beta(t) = beta_min + t (beta_max - beta_min); alpha = exp(-1/2 int beta)."""
  beta_min: float = 0.1
  beta_max: float = 20.0
  t_min: float = 1e-3   # sigma(0) = 0 would make the DSM weight degenerate

  def _log_alpha(self, t):
    t = self.t_min + (1.0 - self.t_min) * t
    return -0.25 * t**2 * (self.beta_max - self.beta_min) - 0.5 * t * self.beta_min

  def alpha(self, t):
    return jnp.exp(self._log_alpha(t))

  def sigma(self, t):
    return jnp.sqrt(-jnp.expm1(2.0 * self._log_alpha(t)))

  def prior(self, key, shape):
    return jax.random.normal(key, shape) * self.sigma(jnp.float32(1.0))


@SCHEDULES.register("edm")
@dataclasses.dataclass(frozen=True)
class EDMSchedule(Schedule):
  sigma_min: float = 0.002
  sigma_max: float = 80.0
  rho: float = 7.0
  p_mean: float = -1.2
  p_std: float = 1.2

  def sigma(self, t):
    lo, hi = self.sigma_min ** (1 / self.rho), self.sigma_max ** (1 / self.rho)
    return (lo + t * (hi - lo)) ** self.rho

  def t_of_sigma(self, sigma):
    lo, hi = self.sigma_min ** (1 / self.rho), self.sigma_max ** (1 / self.rho)
    return (sigma ** (1 / self.rho) - lo) / (hi - lo)

  def sample_t(self, key, shape):
    return _log_normal_t(self, key, shape)


def _log_normal_t(schedule, key: Array, shape) -> Array:
  """Training levels of a schedule with p_mean, p_std, sigma_min and sigma_max: log sigma ~
  N(p_mean, p_std^2), clipped to [sigma_min, sigma_max], mapped to t."""
  log_sigma = schedule.p_mean + schedule.p_std * jax.random.normal(key, shape)
  sigma = jnp.clip(jnp.exp(log_sigma), schedule.sigma_min, schedule.sigma_max)
  return schedule.t_of_sigma(sigma)


def default_schedule_config() -> ml_collections.ConfigDict:
  """The paper's VE schedule; `kwargs` go to the schedule's constructor."""
  return ml_collections.ConfigDict(dict(name="ve", kwargs=dict(sigma_min=0.01, sigma_max=10.0)))


def make_schedule(cfg: ml_collections.ConfigDict) -> Schedule:
  """Builds the schedule named by `cfg.name` with `cfg.kwargs`; bad names list valid ones."""
  cls = SCHEDULES.get(cfg.name)
  kwargs = dict(cfg.get("kwargs", {}))
  fields = {f.name for f in dataclasses.fields(cls)}
  unknown = sorted(set(kwargs) - fields)
  if unknown:
    raise ValueError(f"schedule.kwargs {unknown} are not parameters of {cfg.name!r}; "
                     f"valid: {sorted(fields)}")
  schedule = cls(**kwargs)
  s0, s1 = float(schedule.sigma(jnp.float32(0.0))), float(schedule.sigma(jnp.float32(1.0)))
  if not (0.0 < s0 < s1 and math.isfinite(s1)):
    raise ValueError(f"schedule {cfg.name!r} with {kwargs} must give 0 < sigma(0) < sigma(1), "
                     f"got {s0:g}, {s1:g}")
  return schedule
