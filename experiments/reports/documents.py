"""Generated sections of the project's documents, rebuilt from committed raw results.

A generated section of a markdown file sits between two markers:

    <!-- BEGIN GENERATED name: python -m experiments.reports.build -->
    ...
    <!-- END GENERATED name -->

`python -m experiments.reports.build` rewrites every section from results/raw/ (and
`--check` only compares); text outside the markers is prose and is never touched.
"""
import re

BEGIN = "<!-- BEGIN GENERATED {name}: python -m experiments.reports.build -->"
END = "<!-- END GENERATED {name} -->"
_SECTION = re.compile(r"<!-- BEGIN GENERATED (?P<name>[\w./-]+): [^\n]*-->\n(?P<body>.*?)"
                      r"<!-- END GENERATED (?P=name) -->", re.S)


class DocumentError(ValueError):
  """A document whose markers are missing, repeated or unclosed; the message names it."""


def names(text: str) -> list[str]:
  """The generated sections of a document, in order."""
  return [m.group("name") for m in _SECTION.finditer(text)]


def replace_section(text: str, name: str, body: str, where: str = "<document>") -> str:
  """text with section `name`'s body replaced by `body` (a trailing newline is added)."""
  found = [m for m in _SECTION.finditer(text) if m.group("name") == name]
  if len(found) != 1:
    raise DocumentError(f"{where}: {len(found)} generated sections named {name!r} (need one "
                        f"between '{BEGIN.format(name=name)}' and '{END.format(name=name)}')")
  m = found[0]
  body = body.rstrip("\n") + "\n"
  return text[:m.start("body")] + body + text[m.end("body"):]


def section(name: str, body: str) -> str:
  """A whole new generated section, markers included."""
  return f"{BEGIN.format(name=name)}\n{body.rstrip()}\n{END.format(name=name)}\n"
