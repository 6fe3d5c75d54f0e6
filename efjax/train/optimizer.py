"""The optimizer of the paper: AdamW, linear warm-up then cosine decay, clipping at 1.0.

Non-finite updates are skipped (optax.apply_if_finite), and the skip count is
part of the optimizer state so it is checkpointed and reported.
"""
import ml_collections
import optax
from ml_collections import config_dict


def default_optim_config() -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict(dict(
      learning_rate=1e-4,    # peak, after warm-up (paper: 1e-4)
      weight_decay=1e-6,
      warmup_steps=500,
      # When warmup_steps is None: the warm-up as a fraction of the run (train.num_steps),
      # resolved by efjax.train.config.optim_config.
      warmup_fraction=config_dict.placeholder(float),
      decay_steps=100_000,   # cosine decay length (paper: the whole run)
      final_lr_fraction=0.0,
      clip_norm=1.0,
      b1=0.9, b2=0.999, eps=1e-8,
      max_consecutive_nonfinite=1000,
  ))


def learning_rate_schedule(cfg: ml_collections.ConfigDict) -> optax.Schedule:
  return optax.warmup_cosine_decay_schedule(
      init_value=0.0, peak_value=cfg.learning_rate,
      warmup_steps=cfg.warmup_steps,
      decay_steps=max(cfg.decay_steps, cfg.warmup_steps + 1),
      end_value=cfg.learning_rate * cfg.final_lr_fraction)


def validate_optim_config(cfg: ml_collections.ConfigDict, prefix: str = "optim") -> None:
  checks = {"learning_rate": cfg.learning_rate > 0, "weight_decay": cfg.weight_decay >= 0,
            "warmup_steps": cfg.warmup_steps >= 0, "decay_steps": cfg.decay_steps > 0,
            "clip_norm": cfg.clip_norm > 0, "final_lr_fraction": 0 <= cfg.final_lr_fraction <= 1}
  for key, ok in checks.items():
    if not ok:
      raise ValueError(f"{prefix}.{key} has an impossible value: {cfg[key]!r}")


def make_optimizer(cfg: ml_collections.ConfigDict) -> optax.GradientTransformation:
  validate_optim_config(cfg)
  tx = optax.chain(
      optax.clip_by_global_norm(cfg.clip_norm),
      optax.adamw(learning_rate_schedule(cfg), b1=cfg.b1, b2=cfg.b2, eps=cfg.eps,
                  weight_decay=cfg.weight_decay))
  return optax.apply_if_finite(tx, max_consecutive_errors=cfg.max_consecutive_nonfinite)


def skipped_steps(opt_state) -> int:
  """Total number of updates skipped because the gradient was not finite."""
  return opt_state.total_notfinite
