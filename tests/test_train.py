"""The train step: no host sync, pure, EMA warm-up, non-finite steps skipped and counted."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from efjax import schedules
from efjax.train import (create_train_state, default_optim_config, ema_decay, make_multi_step,
                         make_optimizer, make_train_step)
from conftest import init_network, tiny_unet_config


@pytest.fixture(scope="module")
def setup():
  net, variables, actions, obs, _ = init_network(tiny_unet_config(), batch=8)
  optimizer = make_optimizer(default_optim_config())
  schedule = schedules.make_schedule(schedules.default_schedule_config())
  step = jax.jit(make_train_step(net, schedule, optimizer, num_levels=2))
  state = create_train_state(variables, optimizer, jax.random.key(1))
  return step, state, {"actions": actions, "obs": obs}, optimizer


def test_step_makes_no_host_transfer_and_is_pure(setup):
  step, state, batch, _ = setup
  batch = jax.device_put(batch)
  step(state, batch)                                   # compile outside the guard
  with jax.transfer_guard("disallow"):
    s1, m1 = step(state, batch)
    s2, m2 = step(state, batch)
  assert int(s1.step) == 1 and float(m1["loss"]) == float(m2["loss"])
  leaves = jax.tree_util.tree_leaves
  assert all(np.array_equal(a, b) for a, b in zip(leaves(s1.params), leaves(s2.params)))
  s3, _ = step(s1, batch)            # the first step has learning rate 0 (warm-up)
  assert not all(np.array_equal(a, b) for a, b in zip(leaves(s3.params), leaves(s1.params)))


def test_non_finite_batch_is_skipped_and_counted(setup):
  step, state, batch, _ = setup
  bad = dict(batch, actions=batch["actions"].at[0, 0, 0].set(jnp.nan))
  s1, m1 = step(state, bad)
  assert int(m1["skipped_steps"]) == 1
  leaves = jax.tree_util.tree_leaves
  assert all(np.array_equal(a, b) for a, b in zip(leaves(s1.params), leaves(state.params)))
  s2, m2 = step(s1, batch)
  assert int(m2["skipped_steps"]) == 1 and bool(jnp.isfinite(m2["loss"]))


def test_ema_warm_up():
  assert float(ema_decay(jnp.array(0), 0.9999)) == pytest.approx(0.1)
  assert float(ema_decay(jnp.array(10**7), 0.9999)) == pytest.approx(0.9999)


def test_multi_step_scan_equals_repeated_steps(setup):
  step, state, batch, optimizer = setup
  data = {k: jnp.concatenate([v, v + 0.1]) for k, v in batch.items()}
  multi = jax.jit(make_multi_step(step, 4, 3))
  s_scan, metrics = multi(state, data)
  assert metrics["loss"].shape == (3,)
  from efjax.train import sample_batch
  s_loop = state
  for _ in range(3):
    rng, key = jax.random.split(s_loop.rng)
    s_loop, _ = step(s_loop.replace(rng=rng), sample_batch(key, data, 4))
  leaves = jax.tree_util.tree_leaves
  for a, b in zip(leaves(s_scan.params), leaves(s_loop.params)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
