"""What every experiments main shares: user errors as one line, quiet library logs, run.

`run(main)` is absl's app.run with two additions: a bad flag or --config override,
and any `efjax.errors.EfjaxError` the main raises (bad config value, bad demo file,
wrong workdir), end the command with one line on stderr and exit status 2. Every
other exception is a bug and keeps its traceback.
"""
import ast
import functools
import sys
import warnings

from absl import app, flags, logging
from ml_collections import config_flags

from efjax.errors import EfjaxError


def shared_flag(define, name: str, *args, **kwargs) -> flags.FlagHolder:
  """`define(name, *args, **kwargs)` unless a flag `name` exists; its holder either way.

  A process that imports several mains (the tests; rl_compare reusing the pipeline's
  stages) would otherwise fail on a second --config or --workdir. Only the main that
  runs reads the values.
  """
  if name not in flags.FLAGS:
    define(name, *args, **kwargs)
  return flags.FlagHolder(flags.FLAGS, flags.FLAGS[name])


def config_flag(help: str = "An experiments/configs/<name>.py[:arg] file.",
                lock: bool = True) -> flags.FlagHolder:
  """The --config flag (ml_collections config file; --config.key=value overrides)."""
  return shared_flag(config_flags.DEFINE_config_file, "config", None, help, lock_config=lock)


def workdir_flag(help: str = "Everything the command writes goes here.") -> flags.FlagHolder:
  """The --workdir flag."""
  return shared_flag(flags.DEFINE_string, "workdir", None, help)


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


def fail(message: str):
  """The user's input is at fault: one line on stderr, exit 2, no traceback."""
  print(f"error: {message}", file=sys.stderr)
  sys.exit(2)


def user_errors_as_one_line(main):
  """main, with an EfjaxError turned into `fail(its first line)`."""
  @functools.wraps(main)
  def wrapped(argv):
    try:
      return main(argv)
    except EfjaxError as e:
      fail((str(e).splitlines() or [type(e).__name__])[0])
  return wrapped


def run(main, required=("config", "workdir")) -> None:
  """app.run(main) with the flags in `required` made mandatory, one-line flag errors and
  one-line user errors (EfjaxError)."""
  flags.mark_flags_as_required(list(required))
  app.run(user_errors_as_one_line(main), flags_parser=parse_flags_or_exit)


def progress(line: str) -> None:
  """A progress line, flushed (the mains' `log`)."""
  print(line, flush=True)


def stale_flag() -> flags.FlagHolder:
  """--stale: what a main built of stages (experiments/stages.py) does with a cached result
  made by other code, config or data."""
  from experiments import stages
  return shared_flag(flags.DEFINE_enum, "stale", "recompute", stages.STALE_POLICIES,
                     "recompute: redo a stage whose cached result was made by other code, "
                     "config or data; report: keep it and say so.")


def run_config_workdir(fn, stale: bool = False) -> None:
  """The whole main of a command that is `fn(config, workdir, log)`: its --config and
  --workdir flags (and --stale for a main of stages), quiet library logs, progress lines,
  one-line user errors."""
  config, workdir = config_flag(), workdir_flag()
  policy = stale_flag() if stale else None

  def main(argv):
    del argv
    quiet_library_logs()
    if policy is not None:
      from experiments import stages
      stages.stale_policy = policy.value
    fn(config.value, workdir.value, log=progress)
  run(main)


def apply_overrides(config, overrides) -> None:
  """Sets `key=value` strings on a ConfigDict, as `--config.key=value` would.

  Each value is parsed as its field's declared type (`ConfigDict.get_type`), so a
  placeholder field, unset until a user sets it, takes `2400` as the int it declares;
  bools read `True`/`False`, tuples and lists a Python literal. KeyError names an unknown
  key; ValueError a malformed item or a value its type does not parse.
  """
  for item in overrides:
    key, sep, text = item.partition("=")
    if not sep:
      raise ValueError(f"config override {item!r} is not key=value")
    *path, leaf = key.split(".")
    node = config
    try:
      for part in path:
        node = node[part]
      field_type = node.get_type(leaf)
    except (KeyError, AttributeError):
      raise KeyError(f"config override {item!r}: the config has no key {key!r}") from None
    try:
      if field_type is bool:
        if text not in ("True", "False"):
          raise ValueError("expected True or False")
        value = text == "True"
      elif field_type in (int, float):
        value = ast.literal_eval(text)
        allowed = (int,) if field_type is int else (int, float)
        if isinstance(value, bool) or not isinstance(value, allowed):
          raise ValueError(f"a {type(value).__name__}")
        value = field_type(value)
      elif field_type in (tuple, list):
        value = tuple(ast.literal_eval(text))
      else:
        value = text
    except (ValueError, SyntaxError) as e:
      raise ValueError(f"config override {item!r}: {text!r} is not a valid "
                       f"{field_type.__name__} ({e})") from None
    node[leaf] = value
