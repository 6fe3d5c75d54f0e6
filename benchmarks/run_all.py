"""Runs every benchmark in one process and rewrites BENCHMARKS.md.

    python benchmarks/run_all.py                      # everything; rewrites BENCHMARKS.md
    python benchmarks/run_all.py --only core          # some sections
    python benchmarks/run_all.py --quick --out /tmp/bench.md   # tiny sizes, seconds (tests)

The new file starts with the machine (CPU model, cores, RAM), the library versions,
the command and the date, then one section per benchmark module. What the file held
before is kept below under "Earlier runs", newest first, so no measured figure is lost;
a section holding a generated part of experiments/reports/build.py (rebuilt from
results/raw/, such as benchmarks/scaling.py's) stays as it is, after the new sections.
If a section fails, the document goes to OUT.partial and OUT is left as it was.

A benchmark module plugs in by its name in MODULES and two attributes:
  TITLE          the section heading
  run(args)      runs the workloads, returns the section's Markdown (tables, ratios);
                 args has .quick (tiny sizes), .warmup / .repeats (None: the module's
                 default) and .torch (run a PyTorch reference where the module has one)
A listed module whose file is missing (not written yet) is skipped with a note.
"""
import argparse
import datetime
import importlib.metadata
import importlib.util
import os
import platform
import re
import shlex
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if __name__ == "__main__":        # huge pages for malloc, as the experiments mains do
  sys.path.insert(0, ROOT)
  from efjax import malloc
  malloc.reexec_with_huge_pages()
MODULES = ("core", "training", "sharding", "ppo")   # sections, in this order
PACKAGES = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "chex", "numpy", "brax",
            "mujoco", "torch")
EARLIER = "<!-- Earlier runs: kept by benchmarks/run_all.py, newest first. -->"
DATE_PREFIX = "Date: "
WRITTEN_BY = "Written by `benchmarks/run_all.py`"
GENERATED = "<!-- BEGIN GENERATED "            # experiments/reports/documents.py's marker


def machine() -> str:
  """CPU model, cores, RAM, OS and the SIMD features XLA's CPU code uses."""
  cpuinfo = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
  model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
  flags = set((re.search(r"^flags\s*:\s*(.+)$", cpuinfo, re.M) or ["", ""])[1].split())
  simd = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
  usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
  ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
  return (f"{model[1] if model else platform.processor() or 'unknown CPU'}, {usable} cores "
          f"usable of {os.cpu_count()}, {ram:.1f} GiB RAM, {platform.platform()}"
          + (f"; {', '.join(simd)}" if simd else ""))


def versions() -> str:
  found = [f"python {platform.python_version()}"]
  for name in PACKAGES:
    try:
      found.append(f"{name} {importlib.metadata.version(name)}")
    except importlib.metadata.PackageNotFoundError:
      pass
  return ", ".join(found)


def load(name: str, directory: str = HERE):
  """The module benchmarks/NAME.py, or None when the file does not exist."""
  path = os.path.join(directory, f"{name}.py")
  if not os.path.exists(path):
    return None
  spec = importlib.util.spec_from_file_location(f"efjax_benchmarks.{name}", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def sections(args, directory: str = HERE):
  """[(title, markdown, ok)] for each selected module, each timed."""
  out = []
  for name in args.only:
    module = load(name, directory)
    if module is None or not hasattr(module, "run"):
      why = "no such file" if module is None else "it defines no run(args)"
      print(f"run_all: skipping benchmarks/{name}.py: {why}", file=sys.stderr)
      continue
    title = getattr(module, "TITLE", name)
    print(f"run_all: {name} ...", file=sys.stderr, flush=True)
    start = time.perf_counter()
    try:
      body, ok = module.run(args).rstrip("\n"), True
    except Exception:   # one broken module must not throw away the others' figures
      traceback.print_exc()
      body, ok = f"**Failed**:\n\n```\n{traceback.format_exc(limit=-3)}```", False
    out.append((title, body + f"\n\n({time.perf_counter() - start:.0f} s, "
                f"`benchmarks/{name}.py`)", ok))
  return out


def demote(markdown: str, levels: int = 2) -> str:
  """Headings `#` -> `###` (outside code fences), to nest a document under a heading."""
  lines, fenced = [], False
  for line in markdown.splitlines():
    fenced ^= line.startswith("```")
    lines.append("#" * levels + line if not fenced and re.match(r"#+ ", line) else line)
  return "\n".join(lines)


# experiments.reports.build's section markers (experiments/reports/documents.py)
GENERATED_MARKER = re.compile(r"^<!-- (BEGIN|END) GENERATED [\w./-]+[:\s][^\n]*-->\n", re.M)


def rebuilt_sections(previous: str, titles=()) -> tuple[list[str], str]:
  """(the latest run's `## ` sections that hold a section experiments/reports/build.py
  generates and that this run does not measure again (`titles`), `previous` without them).
  Those are rebuilt from results/raw/ (the scaling model of benchmarks/scaling.py), not
  measured here: they stay above Earlier runs as they are, and are not archived (a
  generated section must occur once). A section this run measures again is archived,
  without its markers (earlier_runs)."""
  latest, sep, history = previous.partition(EARLIER)
  parts = re.split(r"(?m)^(?=## )", latest)
  kept = [p for p in parts if p.startswith("## ") and GENERATED in p
          and p.splitlines()[0][3:].strip() not in titles]
  rest = "".join(p for p in parts if p not in kept)
  return [p.strip("\n") for p in kept], rest + sep + history


def earlier_runs(previous: str) -> str:
  """The "Earlier runs" part of the new file: the previous latest run, then its history.
  The previous run's generated sections (experiments.reports.build) lose their markers:
  what they showed is kept as it was, and only the new run's sections are rebuilt."""
  if not previous.strip():
    return ""
  latest, _, history = previous.partition(EARLIER)
  latest = GENERATED_MARKER.sub("", latest)
  latest = re.sub(r"\A\s*# Benchmarks[^\n]*\n", "", latest).strip()
  history = re.sub(r"\A\s*## Earlier runs[^\n]*\n", "", history).strip()
  if EARLIER in previous:
    date = re.search(rf"^{DATE_PREFIX}(\S+ \S+ UTC)", latest, re.M)
    heading = f"### Run of {date[1] if date else 'an unknown date'}"
    # The note on how the file is written belongs to the file, not to each run.
    latest = re.sub(rf"^{re.escape(WRITTEN_BY)}[^\n]*\n+", "", latest, flags=re.M)
  else:                  # the file from before run_all: written by hand
    heading = "### Runs before benchmarks/run_all.py (commands and dates in the text)"
  parts = [heading, demote(latest)] + ([history] if history else [])
  return "\n\n".join([EARLIER, "## Earlier runs"] + parts) + "\n"


def document(results, args, command: str, previous: str, seconds: float) -> str:
  now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
  import jax       # after the benchmarks: they set up JAX first
  head = ["# Benchmarks", ""]
  if args.quick:
    head += ["**--quick: tiny sizes for testing; not figures to compare or to publish.**", ""]
  head += [
      f"{WRITTEN_BY}, which replaces everything above \"Earlier runs\" "
      "and keeps the rest. Each ratio compares two figures measured back to back in this one "
      "run; absolute figures move 10-30 % between runs on a shared machine, so read the "
      "ratios.", "",
      f"{DATE_PREFIX}{now} ({seconds:.0f} s in all)  ",
      f"Command: `{command}`  ",
      f"Machine: {machine()}  ",
      f"JAX backend: {jax.default_backend()}, {jax.device_count()} device(s)  ",
      f"Versions: {versions()}", ""]
  body = []
  for title, markdown, _ in results:
    body += [f"## {title}", "", markdown, ""]
  kept, previous = rebuilt_sections(previous, {title for title, _, _ in results})
  for section in kept:
    body += [section, ""]
  tail = earlier_runs(previous)
  return "\n".join(head + body) + ("\n" + tail if tail else "")


def parse(argv):
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--out", default=None, help="default: BENCHMARKS.md at the repository root")
  p.add_argument("--quick", action="store_true", help="tiny sizes, seconds; needs --out")
  p.add_argument("--only", default=",".join(MODULES), help="comma-separated modules")
  p.add_argument("--warmup", type=int, default=None)
  p.add_argument("--repeats", type=int, default=None)
  p.add_argument("--no_torch", dest="torch", action="store_false",
                 help="skip the PyTorch reference runs")
  args = p.parse_args(argv)
  if args.quick and args.out is None:
    p.error("--quick figures do not belong in BENCHMARKS.md: give --out")
  args.out = args.out or os.path.join(ROOT, "BENCHMARKS.md")
  args.only = [name for name in args.only.split(",") if name]
  unknown = [name for name in args.only if not re.fullmatch(r"\w+", name)]
  if unknown or not args.only:
    p.error(f"--only takes module names like {','.join(MODULES)}, got {unknown or 'none'}")
  return args


def main(argv=None, directory: str = HERE) -> int:
  args = parse(sys.argv[1:] if argv is None else argv)
  command = shlex.join(["python", "benchmarks/run_all.py"]
                       + (sys.argv[1:] if argv is None else argv))
  sys.path.insert(0, ROOT)
  start = time.perf_counter()
  results = sections(args, directory)
  previous = open(args.out).read() if os.path.exists(args.out) else ""
  text = document(results, args, command, previous, time.perf_counter() - start)
  ok = all(good for _, _, good in results) and results
  path = args.out if ok else args.out + ".partial"
  with open(path, "w") as f:
    f.write(text)
  print(f"run_all: wrote {path}", file=sys.stderr)
  return 0 if ok else 1


if __name__ == "__main__":
  sys.exit(main())
