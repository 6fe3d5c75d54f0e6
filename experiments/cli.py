"""What every experiments main shares: flag errors as one line, quiet library logs, run."""
import sys
import warnings

from absl import app, flags, logging


def shared_flag(define, name: str, *args, **kwargs) -> flags.FlagHolder:
  """`define(name, *args, **kwargs)` unless a flag `name` exists; its holder either way.

  A process that imports several mains (the tests; rl_compare reusing the pipeline's
  stages) would otherwise fail on a second --config or --workdir. Only the main that
  runs reads the values.
  """
  if name not in flags.FLAGS:
    define(name, *args, **kwargs)
  return flags.FlagHolder(flags.FLAGS, flags.FLAGS[name])


def parse_flags_or_exit(argv):
  """app.run's flag parser: a bad flag or --config override is one line on stderr, exit 2."""
  try:
    return flags.FLAGS(argv)
  except (AttributeError, KeyError) as e:     # ml_collections: a key the config lacks
    print(f"error: --config override names a key the config does not have: {e}",
          file=sys.stderr)
    sys.exit(2)
  except flags.Error as e:
    # config_flags puts get_config's traceback in the message (an unknown task, say):
    # its last line is the error itself.
    lines = [line for line in str(e).splitlines() if line.strip()]
    print(f"error: {lines[-1] if 'Traceback' in str(e) else str(e)}", file=sys.stderr)
    sys.exit(2)


def quiet_library_logs() -> None:
  """orbax logs every checkpoint save at INFO; keep progress lines readable unless
  the user asked for a verbosity."""
  if not flags.FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)
    # brax warns at every env construction that it is unmaintained (we use its envs only)
    warnings.filterwarnings("ignore", message="Brax System", category=UserWarning)


def run(main, required=("config", "workdir")) -> None:
  """app.run(main) with the flags in `required` made mandatory and one-line flag errors."""
  flags.mark_flags_as_required(list(required))
  app.run(main, flags_parser=parse_flags_or_exit)
