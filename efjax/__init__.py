"""efjax: EnergyFlow in JAX. A scalar energy E(a, s, sigma) whose action gradient is a
diffusion policy's score, and whose centered value is a reward for downstream RL."""
__version__ = "0.1.0"
