"""The train state: one pytree with everything a step reads and writes."""
import flax
import jax
import jax.numpy as jnp
import optax

Array = jax.Array


@flax.struct.dataclass
class TrainState:
  """params / spectral: the network's variables; ema_*: their moving average (used for
  inference); opt_state: optimizer state (with the non-finite skip count); step: int32
  scalar; rng: the key the next step splits."""
  step: Array
  params: dict
  spectral: dict
  ema_params: dict
  ema_spectral: dict
  opt_state: optax.OptState
  rng: Array

  @property
  def variables(self) -> dict:
    return {"params": self.params, "spectral": self.spectral}

  @property
  def ema_variables(self) -> dict:
    return {"params": self.ema_params, "spectral": self.ema_spectral}


def create_train_state(variables: dict, optimizer: optax.GradientTransformation,
                       rng: Array) -> TrainState:
  """A step-0 state from freshly initialized `variables` ({'params', 'spectral'})."""
  params, spectral = variables["params"], variables.get("spectral", {})
  copy = lambda tree: jax.tree_util.tree_map(jnp.copy, tree)  # noqa: E731  (own buffers: the state is donated)
  return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                    spectral=spectral, ema_params=copy(params), ema_spectral=copy(spectral),
                    opt_state=optimizer.init(params), rng=rng)
