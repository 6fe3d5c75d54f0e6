"""score = -grad_a E is conservative (symmetric action Jacobian); a direct score net is not."""
import jax
import jax.numpy as jnp
import pytest

from efjax import energy
from conftest import assert_close, init_network, tiny_mlp_config, tiny_unet_config


def _jacobian_asymmetry(net, variables, actions, obs, t) -> float:
  """Relative asymmetry |J - J^T| / |J| of d score / d a for the first sample."""
  def flat_score(a_flat):
    a = a_flat.reshape((1,) + actions.shape[1:])
    return energy.score(net, variables, a, obs[:1], t[:1]).ravel()
  jac = jax.jit(jax.jacfwd(flat_score))(actions[0].ravel())
  return float(jnp.linalg.norm(jac - jac.T) / jnp.linalg.norm(jac))


@pytest.mark.parametrize("make_cfg", [tiny_unet_config, tiny_mlp_config])
def test_energy_score_is_conservative_and_direct_score_is_not(make_cfg):
  assert _jacobian_asymmetry(*init_network(make_cfg("energy"))) < 1e-5
  assert _jacobian_asymmetry(*init_network(make_cfg("score"))) > 1e-2


def test_score_is_per_sample_negative_gradient(tiny_energy):
  net, variables, actions, obs, t = tiny_energy
  batched = jax.jit(lambda a: energy.score(net, variables, a, obs, t))(actions)
  for i in range(actions.shape[0]):
    e_i = lambda a: energy.energy(net, variables, a[None], obs[i:i + 1], t[i:i + 1])[0]  # noqa: E731
    assert_close(batched[i], -jax.grad(e_i)(actions[i]), rtol=1e-5, atol=1e-6)


def test_wrong_shapes_are_named():
  net, variables, actions, obs, t = init_network(tiny_mlp_config())
  with pytest.raises(ValueError, match=r"actions must be \[B, Ha, act_dim\] \(rank 3\), got shape \(3, 8\)"):
    energy.energy(net, variables, actions.reshape(3, 8), obs, t)
  with pytest.raises(ValueError, match=r"obs batch 2 .* != actions batch 3"):
    energy.score(net, variables, actions, obs[:2], t)
  with pytest.raises(ValueError, match=r"t must be \[B\] = \(3,\)"):
    energy.energy(net, variables, actions, obs, t[:1])
  with pytest.raises(ValueError, match="floating-point"):
    energy.energy(net, variables, actions.astype(jnp.int32), obs, t)


def test_direct_score_network_has_no_energy():
  net, variables, actions, obs, t = init_network(tiny_mlp_config("score"))
  with pytest.raises(ValueError, match="no energy"):
    energy.energy(net, variables, actions, obs, t)


def test_chunked_evaluation_equals_one_piece(tiny_energy):
  net, variables, actions, obs, t = tiny_energy
  whole = energy.energy_from_features(net, variables, actions,
                                      energy.encode_obs(net, variables, obs), t)
  for chunk in (1, 2, 3, 5):   # 3 rows: exact chunks, a padded last chunk, one piece
    chunked = energy.map_in_chunks(
        lambda a, o, tt: energy.energy_from_features(
            net, variables, a, energy.encode_obs(net, variables, o), tt),
        actions, obs, t, chunk=chunk)
    assert_close(chunked, whole, rtol=1e-5, atol=1e-6)
