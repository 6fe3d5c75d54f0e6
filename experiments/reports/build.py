"""Rebuilds every generated section of the project's documents from results/raw/.

    python -m experiments.reports.build            # rewrite README.md, results/*.md, plots
    python -m experiments.reports.build --check    # compare only; exit 1 if any differs

Each entry of SECTIONS names a document, one of its generated sections
(experiments.reports.documents), the raw file(s) committed under results/raw/ it is
made from and the function that writes it (one argument per raw file, or per folder of
raw files: a name without .json). DOCUMENTS are
generated whole, each from a folder of raw files: only the files git tracks are read
(a run's new files count once they are committed; the build names those it left out).
A missing or malformed raw file is one line naming it, exit 2.
"""
import json
import os
import subprocess
import sys

from absl import flags

from efjax.errors import DataError
from experiments import cli
from experiments.reports import bandit, benchmarks, documents, metaworld, ppo, rl_compare, scaling
from experiments.reports import pipeline as quickstart

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


def _tracked(folder: str) -> list[str] | None:
  """The files git tracks under results/raw/<folder> (paths relative to it), None outside
  a git tree."""
  path = os.path.join(ROOT, RAW, folder)
  try:
    out = subprocess.run(["git", "-C", ROOT, "ls-files", "-z", "--", path],
                         capture_output=True, text=True, timeout=30)
  except (OSError, subprocess.TimeoutExpired):
    return None
  if out.returncode:
    return None
  prefix = os.path.relpath(path, ROOT) + "/"
  return sorted(p[len(prefix):] for p in out.stdout.split("\0") if p.startswith(prefix))


def _on_disk(folder: str) -> list[str]:
  path = os.path.join(ROOT, RAW, folder)
  return sorted(os.path.relpath(os.path.join(d, n), path)
                for d, _, files in os.walk(path) for n in files)


def read_raw_folder(folder: str) -> dict:
  """{path under results/raw/<folder>: record} of its *.json files that git tracks (every
  one on disk outside a git tree); DataError for a missing folder or a malformed file."""
  if not os.path.isdir(os.path.join(ROOT, RAW, folder)):
    raise DataError(f"{os.path.join(RAW, folder)}: missing (the raw results a document is "
                    "built from)")
  names = _tracked(folder)
  names = _on_disk(folder) if names is None else names
  return {n: read_raw(os.path.join(folder, n)) for n in names if n.endswith(".json")}


def untracked(folder: str) -> list[str]:
  """Raw files under results/raw/<folder> that git does not track (left out of a build)."""
  tracked = _tracked(folder)
  if tracked is None or not os.path.isdir(os.path.join(ROOT, RAW, folder)):
    return []
  return [n for n in _on_disk(folder) if n.endswith(".json") and n not in set(tracked)]


def _bandit_family_text(files: dict) -> str:
  from experiments import bandit_family_report
  return bandit_family_report.document(files)


def _bandit_family_plot(files: dict, path: str) -> None:
  from experiments import bandit_family_report
  bandit_family_report.plot(files, path)


MAIN_BANDIT, EDM_BANDIT = "bandit/main/results.json", "bandit/edm/results.json"
# (document, section, raw file or tuple of raw files, body(*raws) -> markdown)
SECTIONS = (
    ("results/metaworld.md", "metaworld/success_rates", "metaworld/table.json",
     metaworld.success_section),
    ("README.md", "metaworld/table", "metaworld/table.json", metaworld.readme_table),
    ("results/metaworld.md", "metaworld/demos", metaworld.DEMOS, metaworld.demos_section),
    ("results/metaworld.md", "metaworld/speed", metaworld.SPEED, metaworld.speed_section),
    ("results/metaworld.md", "metaworld/diagnosis", metaworld.DIAGNOSIS, metaworld.diagnosis_section),
    ("results/metaworld.md", "metaworld/assembly_fit", metaworld.DIAGNOSIS, metaworld.fit_section),
    ("results/quickstart/report.md", "quickstart/report", "quickstart/results.json",
     quickstart.markdown),
    ("README.md", "quickstart/summary", "quickstart/results.json", quickstart.readme_summary),
    ("README.md", "quickstart/console", "quickstart/console.json", quickstart.console_excerpt),
    ("results/bandit.md", "bandit/sweep", "bandit/sweep.json", bandit.sweep),
    ("results/bandit.md", "bandit/main", MAIN_BANDIT, bandit.main_job),
    ("results/bandit.md", "bandit/preconditioning", (MAIN_BANDIT, EDM_BANDIT),
     lambda none, edm: bandit.preconditioning({"none": none, "edm": edm})),
    ("README.md", "bandit/summary", MAIN_BANDIT, bandit.readme_bullet),
    ("results/ppo.md", "ppo/validation", ppo.VALIDATION, ppo.validation_section),
    ("results/ppo.md", "ppo/env_speed", ppo.ENV_SPEED, ppo.env_speed_section),
    ("results/ppo.md", "ppo/playground", ppo.PLAYGROUND_SPEED, ppo.playground_section),
    ("results/ppo.md", "ppo/rl_budget", ppo.RL_BUDGET, ppo.budget_section),
    ("results/ppo.md", "ppo/brax", ppo.BRAX, ppo.brax_section),
    ("results/ppo.md", "ppo/energyflow_reward", ppo.ENERGYFLOW, ppo.energyflow_section),
    ("BENCHMARKS.md", "ppo/brax", ppo.BRAX, ppo.brax_section),
    ("BENCHMARKS.md", "ppo/energyflow_reward", ppo.ENERGYFLOW, ppo.energyflow_section),
    ("README.md", "ppo/speed", (ppo.BRAX, ppo.ENERGYFLOW), ppo.readme_bullet),
    ("BENCHMARKS.md", "benchmarks/core", "benchmarks/core.json", benchmarks.markdown_report),
    ("BENCHMARKS.md", "benchmarks/core_by_cpu", benchmarks.CPU_FOLDER,
     benchmarks.by_cpu_section),
    ("BENCHMARKS.md", "benchmarks/variants", "benchmarks/variants.json",
     benchmarks.variants_report),
    ("BENCHMARKS.md", "benchmarks/training", "benchmarks/training.json",
     benchmarks.training_section),
    ("BENCHMARKS.md", "benchmarks/profile", "benchmarks/profile.json",
     benchmarks.profile_section),
    ("BENCHMARKS.md", "benchmarks/bf16_accuracy", "benchmarks/bf16_accuracy.json",
     benchmarks.bf16_accuracy_section),
    ("README.md", "benchmarks/summary", ("benchmarks/core.json", "benchmarks/training.json"),
     benchmarks.readme_bullet),
    ("BUILD.md", "benchmarks/huge_pages", "benchmarks/huge_pages.json",
     benchmarks.huge_pages_section),
    ("BENCHMARKS.md", "benchmarks/sharding", "benchmarks/sharding.json",
     benchmarks.sharding_section),
    ("BENCHMARKS.md", "benchmarks/workers", "benchmarks/workers.json",
     benchmarks.workers_section),
    ("BENCHMARKS.md", "scaling/table", "scaling/table.json", scaling.benchmarks_section),
    ("BENCHMARKS.md", "scaling/findings", "scaling/table.json", scaling.findings),
    ("README.md", "rl_compare/claims", rl_compare.RAW_FOLDER, rl_compare.readme_claims),
)
# (document, raw folder, text(files) -> the whole document): generated whole
DOCUMENTS = (("results/bandit_family.md", "bandit_family", _bandit_family_text),
             (rl_compare.DOCUMENT, rl_compare.RAW_FOLDER, rl_compare.document))
# (raw file or folder, path, write(raw, path)): plots, rewritten (not compared) by a build
PLOTS = (("metaworld/table.json", "results/metaworld_success.png", metaworld.write_plot),
         ("quickstart/results.json", "results/quickstart", quickstart.write_plots),
         ("bandit_family", "results/bandit_family.png", _bandit_family_plot),
         (ppo.VALIDATION, "results", ppo.write_curves),
         ("benchmarks/bf16_accuracy.json", "results/bf16_loss_curve.png",
          benchmarks.write_bf16_plot))


def _names(raw) -> tuple:
  return raw if isinstance(raw, tuple) else (raw,)


def build_documents(raws=None, skip=()) -> dict:
  """{document path: its text with the generated sections rebuilt} (those made from the
  raw files or folders `raws`, every one when None; documents in `skip` left out)."""
  texts = {}
  for doc, raw, text in DOCUMENTS:
    if doc not in skip and (raws is None or raw in raws):
      texts[doc] = text(read_raw_folder(raw))
  for doc, name, raw, body in SECTIONS:
    if doc in skip or (raws is not None and not set(_names(raw)) & set(raws)):
      continue
    text = texts.get(doc)
    if text is None:
      with open(os.path.join(ROOT, doc)) as f:
        text = f.read()
    texts[doc] = documents.replace_section(
        text, name, body(*[_read(r) for r in _names(raw)]), doc)
  return texts


def _read(raw):
  return read_raw(raw) if raw.endswith(".json") else read_raw_folder(raw)


def rebuild(raws, skip=()) -> None:
  """Rewrites the sections and plots made from the raw files `raws` (a runner's step);
  documents in `skip` are left as they are (one the runner writes itself)."""
  raws = set(raws) | {os.path.dirname(r) for r in raws}    # a file counts for its folder
  for doc, text in build_documents(raws, skip).items():
    with open(os.path.join(ROOT, doc), "w") as f:
      f.write(text)
  for raw, path, write in PLOTS:
    if raw in raws:
      write(_read(raw), os.path.join(ROOT, path))


def record(raws: dict, skip=()) -> None:
  """Writes each raw record {name under results/raw/: record} as JSON and rebuilds the
  documents made from them (but those in `skip`: one its caller writes itself)."""
  for name, raw in raws.items():
    path = os.path.join(ROOT, RAW, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
      json.dump(raw, f, indent=1)
      f.write("\n")
    print(f"wrote {os.path.relpath(path, ROOT)}", file=sys.stderr)
  rebuild(set(raws), skip=skip)


def benchmark_section(args, raw_name: str, raw: dict, text: str) -> str:
  """A section of benchmarks/run_all.py (args: its options). A full-size run into the
  repository's BENCHMARKS.md publishes: the raw record goes to results/raw/<raw_name> (the
  other documents made from it are rebuilt) and the text comes back between the markers of
  its generated section, named raw_name without ".json". Otherwise (--quick, another
  --out) the text alone."""
  out = os.path.abspath(getattr(args, "out", None) or "")
  if getattr(args, "quick", False) or out != os.path.join(ROOT, "BENCHMARKS.md"):
    return text
  record({raw_name: raw}, skip=("BENCHMARKS.md",))
  return documents.section(raw_name.removesuffix(".json"), text)


def main(argv):
  del argv
  built = build_documents()
  stale = []
  for doc, text in built.items():
    path = os.path.join(ROOT, doc)
    old = None
    if os.path.exists(path):
      with open(path) as f:
        old = f.read()
    if old != text:
      stale.append(doc)
      if not _CHECK.value:
        with open(path, "w") as out:
          out.write(text)
  for _, folder, _ in DOCUMENTS:
    left = untracked(folder)
    if left:
      print(f"note: {len(left)} raw files under {os.path.join(RAW, folder)} are not "
            f"committed and were left out (git add them, then rebuild): {', '.join(left[:3])}"
            + (", ..." if len(left) > 3 else ""), file=sys.stderr)
  if _CHECK.value:
    if stale:
      print("differ from what results/raw makes: " + ", ".join(stale), file=sys.stderr)
      sys.exit(1)
    print(f"{len(built)} documents match their raw results")
    return
  for raw, path, write in PLOTS:
    write(_read(raw), os.path.join(ROOT, path))
  print(f"rebuilt {len(built)} documents ({len(stale)} changed) and {len(PLOTS)} plots")


if __name__ == "__main__":
  cli.run(main, required=())
