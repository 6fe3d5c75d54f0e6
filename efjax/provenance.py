"""What made an artifact: code, library versions, machine, data and config, as one record.

    fp = fingerprint(config, data_files=[demo_path])   # a JSON-able dict
    check_fingerprint(fp, where)                       # ProvenanceError for a damaged one
    differences(fp_a, fp_b)                            # [(key, a, b)] where they differ

A fingerprint is written into every training workdir (WORKDIR/fingerprint.json and
each checkpoint's metadata), every export's metadata.json, every evaluation JSON and
every raw result file; `python -m experiments.provenance PATH [PATH2]` prints one or
compares two.

Its keys:
  code          git commit and dirty flag of the source tree (or the installed version
                outside a git tree), and `source_hash`: sha256 of the efjax and
                experiments Python sources, which changes with the code and not with
                committed results (what caches are keyed on)
  efjax_version the package version with the commit as its local part: 0.1.0+g1a2b3c4
  versions      python, jax, jaxlib, flax, optax, orbax-checkpoint, chex, brax, mujoco,
                metaworld, numpy (None where not installed)
  platform      OS, machine, CPU model, jax backend and device kinds
  data          per data file: path, sha256, size in bytes, and its arrays' shapes (npz)
  config_hash   sha256 of the resolved config as canonical JSON
"""
import datetime
import functools
import hashlib
import importlib.metadata
import json
import os
import platform
import subprocess
import time

from efjax.errors import EfjaxError

FORMAT = 1
BASE_VERSION = "0.1.0"
PACKAGES = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "chex", "brax", "mujoco",
            "metaworld", "numpy")
REQUIRED_KEYS = ("format", "code", "efjax_version", "versions", "platform", "data",
                 "config_hash")
FINGERPRINT_FILE = "fingerprint.json"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class ProvenanceError(EfjaxError, ValueError):
  """A fingerprint that is missing, damaged or does not match; the message names the file."""


def _git(*args: str) -> str | None:
  try:
    out = subprocess.run(["git", "-C", ROOT, *args], capture_output=True, text=True,
                         timeout=10)
  except (OSError, subprocess.TimeoutExpired):
    return None
  return out.stdout.strip() if out.returncode == 0 else None


@functools.cache
def source_hash() -> str:
  """sha256 over the efjax/ and experiments/ Python sources (path and content), read once
  per process: the code a process runs is what it imported, so an edit to the tree while a
  long run goes on must not make that run's own earlier stages look stale."""
  digest = hashlib.sha256()
  for top in ("efjax", "experiments"):
    for folder, dirs, files in sorted(os.walk(os.path.join(ROOT, top))):
      dirs.sort()
      for name in sorted(f for f in files if f.endswith(".py")):
        path = os.path.join(folder, name)
        digest.update(os.path.relpath(path, ROOT).encode() + b"\0")
        with open(path, "rb") as f:
          digest.update(f.read())
  return digest.hexdigest()


def code() -> dict:
  """{'commit', 'dirty', 'source_hash'} in a git tree; {'installed', 'source_hash'} outside."""
  commit = _git("rev-parse", "HEAD")
  if commit is None:
    return {"commit": None, "dirty": None, "installed": _installed_version(),
            "source_hash": source_hash()}
  dirty = bool(_git("status", "--porcelain", "--untracked-files=no", "--", "efjax",
                    "experiments"))
  return {"commit": commit, "dirty": dirty, "source_hash": source_hash()}


def _installed_version() -> str | None:
  try:
    return importlib.metadata.version("efjax")
  except importlib.metadata.PackageNotFoundError:
    return None


def version() -> str:
  """BASE_VERSION with the git commit as its local part (0.1.0+g1a2b3c4, .dirty when the
  sources differ from it); the installed version outside a git tree."""
  c = code()
  if c["commit"] is None:
    return c.get("installed") or BASE_VERSION
  return f"{BASE_VERSION}+g{c['commit'][:7]}" + (".dirty" if c["dirty"] else "")


def versions() -> dict:
  out = {"python": platform.python_version()}
  for name in PACKAGES:
    try:
      out[name] = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
      out[name] = None
  return out


def machine() -> dict:
  import jax
  cpu = None
  if os.path.exists("/proc/cpuinfo"):
    with open("/proc/cpuinfo") as f:
      cpu = next((line.split(":", 1)[1].strip() for line in f
                  if line.startswith("model name")), None)
  return {"system": platform.system(), "machine": platform.machine(), "cpu": cpu,
          "backend": jax.default_backend(),
          "devices": sorted({d.device_kind for d in jax.devices()}),
          "device_count": jax.device_count()}


@functools.lru_cache(maxsize=64)
def _file_digest(path: str, size: int, mtime: float) -> str:
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


def file_record(path: str) -> dict:
  """{'path', 'sha256', 'bytes', 'arrays'}: arrays {name: shape} of an npz, else None."""
  st = os.stat(path)
  record = {"path": os.path.abspath(path), "sha256": _file_digest(path, st.st_size, st.st_mtime),
            "bytes": st.st_size, "arrays": None}
  if path.endswith(".npz"):
    import numpy as np
    try:
      with np.load(path, allow_pickle=False) as z:
        record["arrays"] = {k: list(z[k].shape) for k in z.files}
    except Exception:  # noqa: BLE001  (a damaged file keeps its hash; validation reports it)
      pass
  return record


def config_hash(config) -> str | None:
  """sha256 of the config as canonical JSON (keys sorted); None without a config."""
  if config is None:
    return None
  as_dict = config.to_dict() if hasattr(config, "to_dict") else config
  text = json.dumps(as_dict, sort_keys=True, default=str, separators=(",", ":"))
  return hashlib.sha256(text.encode()).hexdigest()


def fingerprint(config=None, data_files=()) -> dict:
  """The record of what is making an artifact now (see the module doc)."""
  return {"format": FORMAT, "code": code(), "efjax_version": version(),
          "versions": versions(), "platform": machine(),
          "data": [file_record(p) for p in data_files if p and os.path.exists(p)],
          "config_hash": config_hash(config)}


def result_header(command: str | None, start: float, setting: dict | None = None,
                  data_files=()) -> dict:
  """What every raw result record carries: the command, UTC date, wall seconds since
  `start` (a time.perf_counter() value), cores and load average at the end, the setting
  and the fingerprint of that setting (its config_hash)."""
  return {"command": command,
          "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
          "wall_s": round(time.perf_counter() - start, 1), "cpu_count": os.cpu_count(),
          "load_average_at_end": (list(os.getloadavg()) if hasattr(os, "getloadavg")
                                  else None),
          "setting": setting, "fingerprint": fingerprint(setting, data_files)}


def data_hashes(fp: dict) -> list[str]:
  return [d["sha256"] for d in fp.get("data", [])]


def check_fingerprint(fp, where: str) -> dict:
  """fp itself when it has every key of the format; ProvenanceError naming `where` else."""
  if not isinstance(fp, dict):
    raise ProvenanceError(f"{where}: the fingerprint is not a JSON object")
  missing = [k for k in REQUIRED_KEYS if k not in fp]
  if missing:
    raise ProvenanceError(f"{where}: the fingerprint lacks {', '.join(missing)} "
                          "(hand-edited or damaged?)")
  if fp["format"] != FORMAT:
    raise ProvenanceError(f"{where}: fingerprint format {fp['format']!r} is not {FORMAT}")
  if not isinstance(fp["data"], list) or not all(
      isinstance(d, dict) and isinstance(d.get("sha256"), str) for d in fp["data"]):
    raise ProvenanceError(f"{where}: the fingerprint's data entries lack their sha256")
  return fp


def differences(a: dict, b: dict) -> list[tuple[str, object, object]]:
  """[(dotted key, a's value, b's value)] where two fingerprints differ (data by hash)."""
  flat = lambda fp: {**flatten({k: v for k, v in fp.items() if k != "data"}),  # noqa: E731
                     "data.sha256": data_hashes(fp)}
  fa, fb = flat(a), flat(b)
  return [(k, fa.get(k), fb.get(k)) for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)]


def flatten(d: dict, prefix: str = "") -> dict:
  """{'a': {'b': 1}} -> {'a.b': 1}."""
  out = {}
  for k, v in d.items():
    if isinstance(v, dict):
      out.update(flatten(v, f"{prefix}{k}."))
    else:
      out[f"{prefix}{k}"] = v
  return out


def same_major_minor(recorded: str | None, running: str | None) -> bool:
  """True when two version strings agree in major.minor (or either is unknown)."""
  if not recorded or not running:
    return True
  return recorded.split(".")[:2] == running.split(".")[:2]


def version_drift(fp: dict, packages=("jax", "flax")) -> list[str]:
  """'jax 0.9 recorded, 0.10 running' for each package whose major.minor changed."""
  now = versions()
  return [f"{p} {fp['versions'].get(p)} recorded, {now.get(p)} running" for p in packages
          if not same_major_minor(fp.get("versions", {}).get(p), now.get(p))]


def read_fingerprint(path: str) -> dict | None:
  """The fingerprint of a workdir, an export, or a result JSON (None where there is none).

  path: a directory holding fingerprint.json or metadata.json (an export), or a JSON file
  with a top-level "fingerprint". ProvenanceError for a damaged one."""
  if os.path.isdir(path):
    for name, key in ((FINGERPRINT_FILE, None), ("metadata.json", "fingerprint")):
      candidate = os.path.join(path, name)
      if os.path.exists(candidate):
        return read_fingerprint_file(candidate, key)
    return None
  return read_fingerprint_file(path, "fingerprint")


def read_fingerprint_file(path: str, key: str | None) -> dict | None:
  try:
    with open(path) as f:
      value = json.load(f)
  except OSError as e:
    raise ProvenanceError(f"{path}: cannot read ({e.strerror or e})") from None
  except json.JSONDecodeError as e:
    raise ProvenanceError(f"{path}: not valid JSON ({e})") from None
  if key is not None:
    if not isinstance(value, dict) or key not in value:
      return None
    value = value[key]
  return check_fingerprint(value, path)


def newest(fp: dict) -> dict:
  """The newest run's fingerprint of a record with a "history" (a training workdir's)."""
  return fp["history"][-1] if fp.get("history") else fp


def loading_note(path: str, what: str = "trained") -> str | None:
  """One line to print when loading the artifact at path: it has no fingerprint (made
  before efjax recorded them), or jax / flax changed major.minor since; None otherwise."""
  fp = read_fingerprint(path)
  if fp is None:
    return (f"note: {path} has no fingerprint (made before efjax recorded one): its code, "
            "library versions and data are unknown")
  drift = version_drift(newest(fp))
  if drift:
    return f"warning: {path} was {what} with other library versions: {'; '.join(drift)}"
  return None


def describe(fp: dict) -> str:
  """A few lines for a person."""
  c = fp["code"]
  where = (f"commit {c['commit'][:12]}{' (dirty)' if c.get('dirty') else ''}"
           if c.get("commit") else f"installed {c.get('installed')}")
  lines = [f"efjax {fp['efjax_version']} ({where}, sources {c['source_hash'][:12]})",
           "versions: " + ", ".join(f"{k} {v}" for k, v in fp["versions"].items() if v),
           f"platform: {fp['platform'].get('system')} {fp['platform'].get('machine')}, "
           f"{fp['platform'].get('cpu')}, {fp['platform'].get('backend')} "
           f"{fp['platform'].get('devices')}",
           f"config sha256: {fp['config_hash']}"]
  lines += [f"data: {d['path']} sha256 {d['sha256'][:16]} ({d['bytes']:,} bytes"
            + (f"; {', '.join(f'{k} {v}' for k, v in d['arrays'].items())}" if d.get("arrays")
               else "") + ")" for d in fp["data"]]
  return "\n".join(lines)
