"""Rebuilds every generated section of the project's documents from results/raw/.

    python -m experiments.reports.build            # rewrite README.md, results/*.md, plots
    python -m experiments.reports.build --check    # compare only; exit 1 if any differs

Each entry of SECTIONS names a document, one of its generated sections
(experiments.reports.documents) and the function that writes that section from a raw
file committed under results/raw/. A missing raw file is one line naming it, exit 2.
"""
import json
import os
import sys

from absl import flags

from efjax.errors import DataError
from experiments import cli
from experiments.reports import documents, metaworld, scaling

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RAW = "results/raw"

_CHECK = flags.DEFINE_bool("check", False, "Only compare the documents with what the raw "
                           "results make; exit 1 naming the ones that differ.")


def read_raw(name: str) -> dict:
  """results/raw/<name> (JSON); DataError naming a missing or unreadable file."""
  path = os.path.join(ROOT, RAW, name)
  try:
    with open(path) as f:
      return json.load(f)
  except FileNotFoundError:
    raise DataError(f"{os.path.join(RAW, name)}: missing (a raw result the documents are "
                    "built from)") from None
  except json.JSONDecodeError as e:
    raise DataError(f"{os.path.join(RAW, name)}: not valid JSON ({e})") from None


# (document, section, raw file, body(raw) -> markdown)
SECTIONS = (
    ("results/metaworld.md", "metaworld/success_rates", "metaworld/table.json",
     metaworld.success_section),
    ("README.md", "metaworld/table", "metaworld/table.json", metaworld.readme_table),
    ("BENCHMARKS.md", "scaling/table", "scaling/table.json", scaling.benchmarks_section),
)
# (raw file, path, write(raw, path)): plots, rewritten (not compared) by a build
PLOTS = (("metaworld/table.json", "results/metaworld_success.png", metaworld.write_plot),)


def build_documents(raws=None) -> dict:
  """{document path: its text with the generated sections rebuilt} (those made from the
  raw files `raws`; every section when None)."""
  texts = {}
  for doc, name, raw, body in SECTIONS:
    if raws is not None and raw not in raws:
      continue
    text = texts.get(doc)
    if text is None:
      with open(os.path.join(ROOT, doc)) as f:
        text = f.read()
    texts[doc] = documents.replace_section(text, name, body(read_raw(raw)), doc)
  return texts


def rebuild(raws) -> None:
  """Rewrites the sections and plots made from the raw files `raws` (a runner's step)."""
  for doc, text in build_documents(set(raws)).items():
    with open(os.path.join(ROOT, doc), "w") as f:
      f.write(text)
  for raw, path, write in PLOTS:
    if raw in raws:
      write(read_raw(raw), os.path.join(ROOT, path))


def main(argv):
  del argv
  built = build_documents()
  stale = []
  for doc, text in built.items():
    path = os.path.join(ROOT, doc)
    with open(path) as f:
      if f.read() != text:
        stale.append(doc)
        if not _CHECK.value:
          with open(path, "w") as out:
            out.write(text)
  if _CHECK.value:
    if stale:
      print("differ from what results/raw makes: " + ", ".join(stale), file=sys.stderr)
      sys.exit(1)
    print(f"{len(built)} documents match their raw results")
    return
  for raw, path, write in PLOTS:
    write(read_raw(raw), os.path.join(ROOT, path))
  print(f"rebuilt {len(built)} documents ({len(stale)} changed) and {len(PLOTS)} plots")


if __name__ == "__main__":
  cli.run(main, required=())
