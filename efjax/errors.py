"""The errors a user causes: bad config values, bad files, wrong workdirs.

Every one derives from `EfjaxError`; the experiments' command line turns exactly
these into one line on stderr and exit status 2 (experiments/cli.py), so any
other exception is a bug and keeps its traceback. Each class also derives from
the builtin a caller would expect (ValueError, FileNotFoundError), so
`except ValueError` around library calls keeps working.
"""


class EfjaxError(Exception):
  """Input the user got wrong; the message names the file, field or config key."""


class ConfigError(EfjaxError, ValueError):
  """A config value that cannot work; the message names the key."""


class DataError(EfjaxError, ValueError):
  """A data file that cannot be used; the message names the file and the field."""


class WorkdirError(EfjaxError, FileNotFoundError):
  """A workdir that is not what the command needs (no config.json, no checkpoint, another
  method's or another environment's model); the message names the workdir."""


class ExportError(EfjaxError, ValueError):
  """An export directory that cannot be trusted or read; the message names the file."""


class TaskError(EfjaxError, ValueError):
  """An environment or task setting that cannot run (unknown task, wrong sizes)."""
