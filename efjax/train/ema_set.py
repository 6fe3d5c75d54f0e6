"""Train once, keep several EMA averages: one run scores many `train.ema` choices (tuning).

`train_with_ema_set(config, decays)` runs the same DSM steps as
`efjax.train.train_and_evaluate` (same data pipeline, network, optimizer, step
and batch draws; nothing written to disk) and carries one extra EMA of the parameters
per decay, each with the trainer's warm-up (`ema_decay`). Since the EMA never feeds
back into training, one run gives exactly what separate runs with each decay would
give. Returns `efjax.model.Model`s, one per decay, whose reward is read as after
`efjax.load`.
"""
import math
import time

import jax
import jax.numpy as jnp

from efjax import model as model_lib
from efjax.data.units import DemoUnits
from efjax.networks import power_iteration
from efjax.train.config import (steps_per_call, validate_energyflow_config,
                                validate_train_config)
from efjax.train.dataset import prepare_data, window_batch
from efjax.train.setup import energy_training
from efjax.train.step import ema_decay, make_train_step


def _mix_all(extras, params, step, decays):
  """Each (ema params, ema spectral) in extras moved towards params by its decay."""
  out = []
  for (ema_p, ema_s), d in zip(extras, decays):
    w = ema_decay(step, d)
    ema_p = jax.tree_util.tree_map(lambda e, p: w * e + (1.0 - w) * p, ema_p, params)  # noqa: B023
    out.append((ema_p, power_iteration(ema_p, ema_s)))
  return tuple(out)


def train_with_ema_set(config, decays, log=None) -> dict:
  """{decay: Model} after config.train.num_steps steps; also {'samples_per_s': float}.

  decays: EMA decays in [0, 1). log(step, loss) is called after every compiled call.
  """
  validate_train_config(config)
  validate_energyflow_config(config)
  decays = tuple(float(d) for d in decays)
  t = config.train
  per_call = math.gcd(steps_per_call(t), t.num_steps)
  data, norms, summary = prepare_data(config)
  obs_dim, act_dim = summary["obs_dim"], summary["act_dim"]
  k_init, k_train = jax.random.split(jax.random.key(config.seed))   # as efjax.train.fit
  net, schedule, optimizer, state = energy_training(config, obs_dim, act_dim, k_init, k_train)
  step_fn = make_train_step(net, schedule, optimizer, t.num_levels, decays[0])
  extras = tuple((jax.tree_util.tree_map(jnp.copy, state.params),
                  jax.tree_util.tree_map(jnp.copy, state.spectral)) for _ in decays)

  def multi_step(carry, data):
    def body(carry, _):
      state, extras = carry
      rng, key = jax.random.split(state.rng)
      state, metrics = step_fn(state.replace(rng=rng), window_batch(key, data, t.batch_size))
      return (state, _mix_all(extras, state.params, state.step - 1, decays)), metrics["loss"]
    return jax.lax.scan(body, carry, None, length=per_call)

  multi_step = jax.jit(multi_step, donate_argnums=0)
  carry, done, start = (state, extras), 0, None
  while done < t.num_steps:
    carry, loss = multi_step(carry, data)
    done += per_call
    if start is None:
      jax.block_until_ready(loss)
      start, start_step = time.perf_counter(), done
    if log is not None:
      log(done, float(loss.mean()))
  jax.block_until_ready(carry)
  elapsed = time.perf_counter() - start
  _, extras = carry
  units = DemoUnits(norms, config.data.obs_horizon, config.data.action_horizon, obs_dim, act_dim)
  models = {d: model_lib.Model(config=config, params={"params": p, "spectral": s}, net=net,
                               schedule=schedule, units=units)
            for d, (p, s) in zip(decays, extras)}
  rate = (done - start_step) * t.batch_size / elapsed if done > start_step else None
  return {"models": models, "samples_per_s": rate}
