"""Statistics of policy evaluations: binomial intervals."""
import math


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
  """Wilson score interval for a binomial proportion (95% for z = 1.96); (0, 1) if n = 0.

  Unlike the normal approximation it stays inside [0, 1] and is not degenerate at
  0 or n successes, which small evaluations (50 episodes, rates near 100%) hit.
  """
  if n == 0:
    return 0.0, 1.0
  p = successes / n
  centre = (p + z * z / (2 * n)) / (1 + z * z / n)
  half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
  return max(0.0, centre - half), min(1.0, centre + half)
