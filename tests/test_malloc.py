"""efjax.malloc: when a main restarts itself with glibc's huge-page tunable."""
import sys

from efjax import malloc

GLIBC = ("glibc", "2.36")
MADVISE = "always [madvise] never"


def test_sets_the_tunable_once_and_keeps_other_tunables():
  env = malloc.huge_page_env({"PATH": "/bin"}, GLIBC, MADVISE)
  assert env == {"PATH": "/bin", "GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"}
  assert malloc.huge_page_env(env, GLIBC, MADVISE) is None            # no second restart
  env = malloc.huge_page_env({"GLIBC_TUNABLES": "glibc.malloc.check=0"}, GLIBC, MADVISE)
  assert env["GLIBC_TUNABLES"] == "glibc.malloc.check=0:glibc.malloc.hugetlb=1"


def test_does_nothing_where_it_cannot_help_or_is_turned_off():
  assert malloc.huge_page_env({"EFJAX_HUGE_PAGES": "0"}, GLIBC, MADVISE) is None
  assert malloc.huge_page_env({}, ("glibc", "2.31"), MADVISE) is None   # no such tunable
  assert malloc.huge_page_env({}, ("", ""), MADVISE) is None            # musl, macOS
  assert malloc.huge_page_env({}, GLIBC, "always madvise [never]") is None
  assert malloc.huge_page_env({"GLIBC_TUNABLES": "glibc.malloc.hugetlb=0"}, GLIBC, MADVISE) is None


def test_only_experiments_mains_restart(monkeypatch):
  monkeypatch.setattr(sys, "orig_argv", ["python", "-m", "experiments.train", "--workdir=x"])
  assert malloc.started_as_main_of("experiments")
  monkeypatch.setattr(sys, "orig_argv", ["python", "-m", "pytest", "tests"])
  assert not malloc.started_as_main_of("experiments")
  monkeypatch.setattr(sys, "orig_argv", ["python", "-c", "import experiments"])
  assert not malloc.started_as_main_of("experiments")
