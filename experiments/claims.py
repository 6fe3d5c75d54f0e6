"""Which process runs which run, when several share one sweep's workdir.

    claims = Claims(os.path.join(workdir, "claims"))
    with claims.held("sweep/gail/3") as mine:
      if mine:
        ...                      # train it (a thread renews the claim's heartbeat)
      else:
        print(claims.holder("sweep/gail/3"))   # {'host', 'pid', 'since', ...}

A run is trained only by the process holding its claim: FOLDER/<name>.json, made and
removed under an exclusive lock on FOLDER/claims.lock (fcntl.flock: one host's processes,
or several hosts on a shared filesystem that supports it, such as NFS on Linux). The
claim says who holds it (host, pid, the process's start time) and its file's mtime is the
holder's heartbeat, renewed every minute by a thread while the claim is held. A claim
whose holder is gone is taken over: on the same host when its process no longer runs (a
reused pid does not count: the start time differs); from another host when its heartbeat
is older than `stale_after_s`.
"""
import contextlib
import fcntl
import json
import os
import socket
import threading
import time

from efjax.workdir import write_json


def _start_time(pid: int) -> str | None:
  """A process's start time since boot as Linux keeps it (/proc/<pid>/stat, field 22),
  prefixed by the boot's id, so that a pid reused later or after a reboot reads another
  value; None when no such process runs (or where /proc is missing: see `_alive`)."""
  try:
    with open(f"/proc/{pid}/stat") as f:
      fields = f.read().rsplit(")", 1)[1].split()   # the name, in parentheses, may hold spaces
    with open("/proc/sys/kernel/random/boot_id") as f:
      boot = f.read().strip()
  except OSError:
    return None
  return f"{boot}:{fields[19]}"


def _alive(holder: dict) -> bool:
  """Whether the process of a claim made on this host still runs."""
  if os.path.isdir("/proc"):
    return _start_time(holder["pid"]) == holder.get("started")
  try:
    os.kill(holder["pid"], 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    pass
  return True


@contextlib.contextmanager
def file_lock(path: str):
  """An exclusive lock on the file `path` (made if missing) for the block: processes that
  read, change and write a shared file do it one at a time."""
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  with open(path, "a") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(lock, fcntl.LOCK_UN)


class Claims:
  """The claims of one sweep's runs in `folder` (module doc)."""

  def __init__(self, folder: str, stale_after_s: float = 1800.0, beat_every_s: float = 60.0):
    self.folder, self.stale_after_s, self.beat_every_s = folder, stale_after_s, beat_every_s
    self.me = {"host": socket.gethostname(), "pid": os.getpid(),
               "started": _start_time(os.getpid())}
    self._noted = False

  def _path(self, name: str) -> str:
    return os.path.join(self.folder, name + ".json")

  def _locked(self):
    return file_lock(os.path.join(self.folder, "claims.lock"))

  def holder(self, name: str) -> dict | None:
    """Who holds the claim on `name` (with 'age_s', seconds since its last heartbeat), or
    None when nobody does."""
    path = self._path(name)
    try:
      with open(path) as f:
        holder = json.load(f)
      age = time.time() - os.path.getmtime(path)
    except (OSError, json.JSONDecodeError):
      return None
    return {**holder, "age_s": age}

  def _live(self) -> set[tuple[str, int]]:
    """(host, pid) of every process holding a claim now, this one included."""
    live = {(self.me["host"], self.me["pid"])}
    for root, _, files in os.walk(self.folder):
      for file in files:
        if file.endswith(".json"):
          name = os.path.relpath(os.path.join(root, file), self.folder)[:-len(".json")]
          holder = self.holder(name)
          if holder is not None and not self._gone(holder):
            live.add((holder["host"], holder["pid"]))
    return live

  def workers(self) -> int:
    """How many processes hold a claim now (this one included, holding one or not)."""
    return len(self._live())

  def note_unpinned(self, log) -> None:
    """Logs once, when other workers on this host hold claims and this process may run on
    every core, that `launch.workers` would pin one process per core."""
    if self._noted:
      return
    here = sum(host == self.me["host"] for host, _ in self._live())
    if here > 1 and len(os.sched_getaffinity(0)) == os.cpu_count() > 1:
      self._noted = True
      log(f"   note: {here} processes share this host's {os.cpu_count()} cores and this one "
          "is not pinned to its own; `python -m launch.workers -- <the same arguments>` "
          "starts one per core, pinned, which gets more done (BENCHMARKS.md, \"Worker "
          "processes\")")

  def _mine(self, holder: dict | None) -> bool:
    return holder is not None and all(holder.get(k) == v for k, v in self.me.items())

  def _gone(self, holder: dict) -> bool:
    if holder["host"] == self.me["host"]:
      return not _alive(holder)
    return holder["age_s"] > self.stale_after_s

  def claim(self, name: str) -> bool:
    """Takes the claim on `name` when nobody holds it, or its holder is gone; whether this
    process holds it now."""
    with self._locked():
      holder = self.holder(name)
      if self._mine(holder):
        return True
      if holder is not None and not self._gone(holder):
        return False
      os.makedirs(os.path.dirname(self._path(name)), exist_ok=True)
      write_json(self._path(name), {**self.me, "since": time.time()})
      return True

  def release(self, name: str) -> None:
    """Gives up this process's claim on `name` (nothing when another process holds it)."""
    with self._locked():
      if self._mine(self.holder(name)):
        os.remove(self._path(name))

  def _beat(self, name: str, stop: threading.Event) -> None:
    """Renews the claim's heartbeat every beat_every_s until stop is set."""
    while not stop.wait(self.beat_every_s):
      with contextlib.suppress(FileNotFoundError):
        os.utime(self._path(name))

  def holder_text(self, name: str) -> str:
    """Who holds `name`, in words: 'host pid 123' ('nobody' once released)."""
    holder = self.holder(name)
    return f"{holder['host']} pid {holder['pid']}" if holder else "nobody"

  @contextlib.contextmanager
  def to_run(self, name: str, done, what: str, log=print):
    """For a driver's loop over runs: holds the claim on `name` for the block and yields
    True when this process is to run it; False when done() says it is finished, or when
    another process holds it (then log says so, naming `what` and who)."""
    with self.held(name) as mine:
      if done():                                  # finished, maybe while we asked
        yield False
      elif not mine:
        log(f"{what}: left to the process that holds it ({self.holder_text(name)})")
        yield False
      else:
        self.note_unpinned(log)
        yield True

  @contextlib.contextmanager
  def held(self, name: str):
    """Claims `name` for the block (yields whether this process got it), its heartbeat
    renewed while the block runs, released after."""
    mine = self.claim(name)
    if not mine:
      yield False
      return
    stop = threading.Event()
    beating = threading.Thread(target=self._beat, args=(name, stop), daemon=True)
    beating.start()
    try:
      yield True
    finally:
      stop.set()
      beating.join()
      self.release(name)
