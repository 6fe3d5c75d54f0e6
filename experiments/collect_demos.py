"""Expert demonstrations: Meta-World's scripted experts, or a Brax PPO expert.

    python -m experiments.collect_demos --config=experiments/configs/metaworld.py:button-press-v3 \
        --workdir=DIR [--config.collect.num_episodes=100] [--config.collect.keep_failures=True]
    python -m experiments.collect_demos --config=experiments/configs/brax.py:inverted_pendulum \
        --workdir=DIR          # experiments/configs/brax.py says what it writes

Meta-World:

Episode i starts from seed collect.seed + i. Writes DIR/demos.npz (the demo-file layout,
plus `episode_seeds` [E] and `task`) and DIR/collect_summary.json (expert success
rate, episodes tried and kept, mean length, steps/s). Collection is deterministic:
re-running the same command on a finished workdir prints its summary and stops.
"""

from experiments import cli


_CONFIG = cli.config_flag("experiments/configs/metaworld.py:<task> or brax.py:<env>")
_WORKDIR = cli.workdir_flag("demos.npz and collect_summary.json go here.")


def collect_brax_demos(config, workdir: str, log=print) -> dict:
  """The Brax expert (trained, or reused from config.expert_dir) and its demos."""
  from experiments import stages     # the same stages as the pipeline's
  stages.expert(config, workdir, log)
  return stages.demos(config, workdir, log)


def main(argv):
  del argv
  cli.quiet_library_logs()
  if _CONFIG.value.get("source") == "brax":
    collect_brax_demos(_CONFIG.value, _WORKDIR.value, log=lambda s: print(s, flush=True))
  else:
    from efjax.envs.metaworld_envs import collect_demos
    collect_demos(_CONFIG.value, _WORKDIR.value)


if __name__ == "__main__":
  cli.run(main)
