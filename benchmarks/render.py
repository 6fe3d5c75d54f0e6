"""Regenerates BENCHMARKS.md's generated sections from the raw results in benchmarks/results/.

    python benchmarks/render.py                 # every section whose JSON is there
    python benchmarks/render.py --only core     # one
    python benchmarks/render.py --check         # exit 1 if BENCHMARKS.md is not up to date

A generated section sits between two markers,

    <!-- generated: NAME, measured DATE, from benchmarks/results/NAME.json by benchmarks/render.py -->
    ...
    <!-- end generated: NAME -->

and only the text between them is rewritten; the text around it is hand-written (what
a figure means, why the machine was loaded) and kept. When the JSON holds a newer
measurement than the section shows, the section's previous text moves to "Earlier
runs" (newest first), so no measured figure is lost. Where a section has no markers
yet, the body under its `## TITLE` heading is replaced (and kept under Earlier runs),
or a new `## TITLE` section is added before Earlier runs.

A section is (name, module file, TITLE, markdown_report(record)) in SECTIONS; the
measurement commands write the JSON (benchmarks/core.py --json).
"""
import argparse
import importlib.util
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")
# name -> the module that renders it (its TITLE and markdown_report(record)).
# (benchmarks/scaling.py's section is built from results/raw/ by experiments/reports/build.py.)
SECTIONS = {"core": "core.py", "variants": "variants.py", "bf16_loss": "bf16_loss.py"}
EARLIER = "<!-- Earlier runs: kept by benchmarks/run_all.py, newest first. -->"
BEGIN = ("<!-- generated: {name}, measured {date}, from benchmarks/results/{name}.json by "
         "benchmarks/render.py -->")
END = "<!-- end generated: {name} -->"
BEGIN_RE = r"<!-- generated: {name}, measured (?P<date>[^,]+), from [^>]*-->"


def wrap(name: str, record: dict, markdown: str) -> str:
  """The section's Markdown between its markers."""
  return "\n".join([BEGIN.format(name=name, date=record.get("date", "?")), markdown.rstrip("\n"),
                    END.format(name=name)]) + "\n"


def load_module(filename: str):
  spec = importlib.util.spec_from_file_location(f"efjax_bench_{filename[:-3]}",
                                                os.path.join(HERE, filename))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def _archive(text: str, heading: str, old: str) -> str:
  """Adds `old` (demoted two levels) as the newest entry of Earlier runs."""
  demoted = "\n".join("##" + line if re.match(r"#+ ", line) else line
                      for line in old.strip("\n").splitlines())
  entry = f"### {heading}\n\n{demoted}\n\n"
  if EARLIER not in text:
    return text.rstrip("\n") + f"\n\n{EARLIER}\n\n## Earlier runs\n\n{entry}"
  head, _, tail = text.partition(EARLIER)
  match = re.match(r"\s*## Earlier runs[^\n]*\n+", tail)
  cut = match.end() if match else 0
  return head + EARLIER + tail[:cut] + entry + tail[cut:]


def update(text: str, name: str, title: str, record: dict, markdown: str) -> str:
  """`text` (BENCHMARKS.md) with section `name` rendered from `record`."""
  new = wrap(name, record, markdown)
  found = re.search(BEGIN_RE.format(name=re.escape(name)) + r".*?"
                    + re.escape(END.format(name=name)) + r"\n?", text, re.S)
  if found:
    if found["date"] != record.get("date"):
      old = text[found.start():found.end()]
      inner = old.split("\n", 1)[1].rsplit(END.format(name=name), 1)[0]
      text = text[:found.start()] + new + text[found.end():]
      return _archive(text, f"{title}, measured {found['date']}", inner)
    return text[:found.start()] + new + text[found.end():]
  head, sep, tail = text.partition(EARLIER)
  section = re.search(rf"^## {re.escape(title)}[^\n]*\n(?P<body>.*?)(?=^## |\Z)", head, re.S | re.M)
  if section:
    head = head[:section.start("body")] + "\n" + new + "\n" + head[section.end("body"):]
    text = _archive(head + sep + tail, f"{title}, before benchmarks/render.py",
                    section["body"])
    return text
  head = head.rstrip("\n") + f"\n\n## {title}\n\n{new}\n"
  return head + sep + tail


def render(text: str, only=None, results: str = RESULTS) -> str:
  """`text` with every section whose JSON is in `results` (or those in `only`) rendered."""
  for name, filename in SECTIONS.items():
    path = os.path.join(results, f"{name}.json")
    if (only and name not in only) or not os.path.exists(path) \
        or not os.path.exists(os.path.join(HERE, filename)):
      continue
    with open(path) as f:
      record = json.load(f)
    module = load_module(filename)
    text = update(text, name, module.TITLE, record, module.markdown_report(record))
  return text


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"))
  p.add_argument("--only", default=None, help="comma-separated section names")
  p.add_argument("--check", action="store_true", help="only check that --out is up to date")
  args = p.parse_args(argv)
  old = open(args.out).read() if os.path.exists(args.out) else "# Benchmarks\n"
  new = render(old, args.only.split(",") if args.only else None)
  if args.check:
    if new != old:
      print(f"{args.out} differs from what benchmarks/render.py makes of benchmarks/results/",
            file=sys.stderr)
      return 1
    return 0
  with open(args.out, "w") as f:
    f.write(new)
  print(f"render: wrote {args.out}", file=sys.stderr)
  return 0


if __name__ == "__main__":
  sys.exit(main())
