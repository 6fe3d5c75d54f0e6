"""Transparent huge pages for XLA:CPU's buffers: a faster single train step.

Every call of a compiled XLA:CPU function allocates its temporary buffers (hundreds of
MB for the paper network's train step at batch 256) with glibc malloc, which maps
blocks that large freshly and unmaps them when they are freed, so the next call
page-faults them in again, 4 KiB at a time (a loop of steps inside one call pays it
once). With glibc's `glibc.malloc.hugetlb=1` tunable, malloc asks the kernel for
transparent huge pages (madvise) and the faults and the step time drop: BUILD.md's
figures, from `python benchmarks/huge_pages.py --record`.

glibc reads tunables only when a process starts, so `reexec_with_huge_pages()`
restarts the process with the tunable set; experiments/__init__.py and the benchmark
scripts call it before anything heavy is imported. EFJAX_HUGE_PAGES=0 turns it off.
In a notebook, start Jupyter with GLIBC_TUNABLES=glibc.malloc.hugetlb=1 instead.
"""
import os
import platform
import sys

TUNABLE = "glibc.malloc.hugetlb=1"
THP_SETTING = "/sys/kernel/mm/transparent_hugepage/enabled"


def _thp_setting() -> str:
  try:
    with open(THP_SETTING) as f:
      return f.read()
  except OSError:
    return "[never]"


def huge_page_env(environ: dict, libc: tuple, thp_setting: str) -> dict | None:
  """The environment to restart with, or None when there is nothing to do.

  None when: turned off (EFJAX_HUGE_PAGES=0), already set, not glibc >= 2.35 (the
  first with the tunable), or the kernel's transparent huge pages are `never`.
  """
  if environ.get("EFJAX_HUGE_PAGES", "1") == "0":
    return None
  tunables = environ.get("GLIBC_TUNABLES", "")
  if "glibc.malloc.hugetlb" in tunables:
    return None
  name, version = libc
  try:
    new_enough = name == "glibc" and tuple(int(v) for v in version.split(".")[:2]) >= (2, 35)
  except ValueError:
    new_enough = False
  if not new_enough or "[never]" in thp_setting:
    return None
  return dict(environ, GLIBC_TUNABLES=":".join(filter(None, [tunables, TUNABLE])))


def reexec_with_huge_pages() -> None:
  """Restarts this process (same interpreter and arguments) with the tunable set, once."""
  if sys.platform != "linux":
    return
  env = huge_page_env(dict(os.environ), platform.libc_ver(), _thp_setting())
  if env is not None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable] + sys.orig_argv[1:], env)


def started_as_main_of(package: str) -> bool:
  """Whether this process was started as `python -m <package>.<main> ...`."""
  argv = sys.orig_argv
  return len(argv) > 2 and argv[1] == "-m" and argv[2].startswith(package + ".")
