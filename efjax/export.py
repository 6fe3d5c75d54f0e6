"""Export a trained model as jax.export artifacts that load with jax alone.

    python -m experiments.export --workdir=WORKDIR        # -> WORKDIR/export
    (experiments.train also writes WORKDIR/export when a run reaches num_steps)

## Export

`WORKDIR/export` holds three serialized `jax.export.Exported` functions, each with a
symbolic batch dimension B and the trained weights and normalizers inside, so inputs
and outputs are in the demo file's units, exactly as with `efjax.load`:

    policy.jaxexport               policy(obs [B, Ho, obs_dim], key) -> actions [B, Ha, act_dim]
    reward.jaxexport               reward(obs, actions [B, Ha, act_dim]) -> [B]
    reward_soft_bellman.jaxexport  reward_soft_bellman(obs, actions, next_obs) -> [B]
    metadata.json                  shapes, dtypes, normalizers, reward noise level and
                                   kind, sampler, config, versions, sha256 of each file

`key` is a typed key, `jax.random.key(seed)` (threefry2x32, shape []); the same key
gives the same actions. Every horizon axis is explicit, even where it is 1. A
downstream agent needs jax only (no efjax, nothing unpickled):

    import hashlib, json
    import jax, jax.numpy as jnp
    from jax import export

    d = "WORKDIR/export"
    meta = json.load(open(f"{d}/metadata.json"))
    def load_fn(name):
      blob = open(f"{d}/{name}.jaxexport", "rb").read()
      assert hashlib.sha256(blob).hexdigest() == meta["functions"][name]["sha256"], name
      return export.deserialize(blob)
    policy, reward = load_fn("policy"), load_fn("reward")

    obs = jnp.zeros((8,) + tuple(meta["obs_shape"]), jnp.float32)   # [8, Ho, obs_dim]
    actions = policy.call(obs, jax.random.key(0))                   # [8, Ha, act_dim]
    r = reward.call(obs, actions)                                   # [8]

Wrap `.call` in `jax.jit` to compile once per batch size. With efjax installed,
`efjax.export.load(d)` does the same and checks every file: a missing, truncated or
altered file raises `ExportError` naming it.

Platforms: cpu, cuda and tpu by default; all three lower on a CPU-only machine. A
platform whose lowering fails is left out and its error recorded in
`metadata["platform_errors"]`. A UNet with `conv_impl='auto'` (which picks by the
tracing machine's backend and by batch size, undefined for a symbolic batch) is
exported with `conv_impl='portable'`: the same parameters and function, lowered as
im2col matmuls for CPU (XLA:CPU's own convolution is ~20x slower on these short
sequences) and as XLA's convolution for cuda and tpu (recorded in
`metadata["export_overrides"]`).
"""
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

import jax
import jax.numpy as jnp
from jax import export as jax_export

import efjax
from efjax import errors, provenance
from efjax.model import Model

FORMAT_VERSION = 1
METADATA_FILE = "metadata.json"
NAMES = ("policy", "reward", "reward_soft_bellman")
ARGS = {"policy": ("obs", "key"), "reward": ("obs", "actions"),
        "reward_soft_bellman": ("obs", "actions", "next_obs")}
DEFAULT_PLATFORMS = ("cpu", "cuda", "tpu")


class ExportError(errors.ExportError):
  """An export directory that cannot be trusted or read; the message names the file."""


def _first_line(e: Exception) -> str:
  return f"{type(e).__name__}: {(str(e).splitlines() or [''])[0]}"


def _portable(model):
  """The model with its UNet convolutions in the backend- and batch-independent form."""
  if model.config.model.backbone != "unet" or model.config.model.unet.conv_impl != "auto":
    return model, {}
  from efjax import networks
  cfg = model.config.model.copy_and_resolve_references()
  cfg.unet.conv_impl = "portable"   # same parameters and function; chosen per platform
  return dataclasses.replace(model, net=networks.make_network(cfg, model.schedule)), {
      "model.unet.conv_impl": "portable"}


def _reward_kind(model) -> str:
  """`reward(obs, actions)` has no next_obs, so a soft-Bellman config exports `centered`."""
  kind = model.config.reward.kind
  return "centered" if kind == "soft_bellman" else kind


def _functions(model):
  """{name: (fn, input specs in ARGS order)} with a symbolic batch dimension b."""
  b, = jax_export.symbolic_shape("b")
  d = model.config.data
  obs = jax.ShapeDtypeStruct((b, d.obs_horizon, model.obs_dim), jnp.float32)
  actions = jax.ShapeDtypeStruct((b, d.action_horizon, model.act_dim), jnp.float32)
  key = jax.eval_shape(lambda: jax.random.key(0))
  kind = _reward_kind(model)
  return {
      "policy": (model.sample, (obs, key)),
      "reward": (lambda o, a: model.reward(o, a, kind=kind), (obs, actions)),
      "reward_soft_bellman": (lambda o, a, n: model.reward(o, a, n, kind="soft_bellman"),
                              (obs, actions, obs)),
  }


def _lower_all(functions, platforms):
  return {name: jax_export.export(jax.jit(fn), platforms=platforms)(*specs)
          for name, (fn, specs) in functions.items()}


def _lower(functions, platforms):
  """Lowers for all platforms at once; on failure finds and drops the failing ones."""
  try:
    return _lower_all(functions, tuple(platforms)), {}
  except Exception:  # noqa: BLE001  (lowering raises many types; probed per platform below)
    pass
  errors = {}
  for p in platforms:
    try:
      _lower_all(functions, (p,))
    except Exception as e:  # noqa: BLE001
      errors[p] = _first_line(e)
  working = tuple(p for p in platforms if p not in errors)
  if not working:
    raise ExportError(f"no platform lowers: {errors}")
  return _lower_all(functions, working), errors


def _spec(x, name=None) -> dict:
  shape = ["B" if not isinstance(s, int) else s for s in x.shape]   # B: the symbolic batch
  return {**({"name": name} if name else {}), "shape": shape, "dtype": str(x.dtype)}


def export_model(model, out_dir: str, platforms=DEFAULT_PLATFORMS,
                 trained_with: dict | None = None) -> dict:
  """Writes the three .jaxexport files and metadata.json (last) into out_dir.

  model: an `efjax.model.Model` (from `efjax.load`). trained_with: the training
  workdir's fingerprint, recorded beside this export's own. Returns the metadata.
  """
  model, overrides = _portable(model)
  functions = _functions(model)
  exported, errors = _lower(functions, platforms)
  os.makedirs(out_dir, exist_ok=True)
  entries = {}
  for name, exp in exported.items():
    blob = exp.serialize()
    with open(os.path.join(out_dir, f"{name}.jaxexport"), "wb") as f:
      f.write(blob)
    entries[name] = {"file": f"{name}.jaxexport", "sha256": hashlib.sha256(blob).hexdigest(),
                     "inputs": [_spec(a, n) for a, n in zip(exp.in_avals, ARGS[name])],
                     "outputs": [_spec(a) for a in exp.out_avals]}
  d, cfg = model.config.data, model.config
  metadata = {
      "format_version": FORMAT_VERSION,
      "efjax_version": provenance.version(),
      "jax_version": jax.__version__,
      "fingerprint": provenance.fingerprint(cfg),
      "trained_with": trained_with,
      "platforms": list(exported["policy"].platforms),
      "platform_errors": errors,
      "functions": entries,
      "obs_dim": model.obs_dim, "act_dim": model.act_dim,
      "obs_horizon": d.obs_horizon, "action_horizon": d.action_horizon,
      "obs_shape": [d.obs_horizon, model.obs_dim],
      "action_shape": [d.action_horizon, model.act_dim],
      "dtype": "float32",
      "key": {"make": "jax.random.key(seed)", "impl": str(jax.config.jax_default_prng_impl),
              "dtype": str(functions["policy"][1][1].dtype), "shape": []},
      "normalizers": {k: n.to_dict() for k, n in model.normalizers.items()},
      "reward": {"kind": _reward_kind(model), "config_kind": cfg.reward.kind,
                 "t": float(cfg.reward.t), "multi_noise_t": list(cfg.reward.multi_noise_t),
                 "sigma": float(model.schedule.sigma(jnp.float32(cfg.reward.t))),
                 "sigma_units": "normalized actions",
                 "reference": cfg.reward.get("reference", "sampled"),
                 "num_reference": cfg.reward.num_reference,
                 "alpha": float(cfg.reward.alpha), "gamma": float(cfg.reward.gamma)},
      "sampler": cfg.sampler.to_dict(),
      "export_overrides": overrides,
      "config": json.loads(cfg.to_json_best_effort()),
  }
  with open(os.path.join(out_dir, METADATA_FILE), "w") as f:
    json.dump(metadata, f, indent=2)
  return metadata


def export_workdir(workdir: str, out_dir: str | None = None,
                   platforms=DEFAULT_PLATFORMS) -> str:
  """Exports the newest good checkpoint of workdir to out_dir (WORKDIR/export).

  Written into a temporary sibling directory and renamed into place, so an existing
  export is replaced whole or not at all. Returns out_dir.
  """
  out_dir = os.path.abspath(out_dir or os.path.join(workdir, "export"))
  model = efjax.load(workdir)
  if not isinstance(model, Model):
    raise errors.WorkdirError(f"{workdir} holds a {type(model).__name__}: only EnergyFlow models "
                              "export (a policy and its rewards)")
  parent = os.path.dirname(out_dir)
  os.makedirs(parent, exist_ok=True)
  tmp = tempfile.mkdtemp(prefix=".export-tmp-", dir=parent)
  os.chmod(tmp, 0o755)                       # mkdtemp makes it owner-only
  record = provenance.read_fingerprint(workdir)
  try:
    export_model(model, tmp, platforms, None if record is None else provenance.newest(record))
    load(tmp)                                  # refuse to install what does not load
    if os.path.exists(out_dir):
      old = tempfile.mkdtemp(prefix=".export-old-", dir=parent)
      os.rename(out_dir, os.path.join(old, "export"))
      os.rename(tmp, out_dir)
      shutil.rmtree(old, ignore_errors=True)
    else:
      os.rename(tmp, out_dir)
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
  return out_dir


def export_after_training(workdir: str, log=print) -> None:
  """Writes WORKDIR/export at the end of a run; a failure is one warning line, never fatal.

  In a multi-process run the export runs in a fresh single-process Python: efjax.load's
  orbax restore may synchronize across processes, and the peers have finished.
  """
  try:
    if jax.process_count() == 1:
      out = export_workdir(workdir)
    else:
      root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
      env = {k: v for k, v in os.environ.items() if not k.startswith("EFJAX_")}
      env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
      proc = subprocess.run(
          [sys.executable, "-c", "import sys; from efjax.export import export_workdir; "
           "print(export_workdir(sys.argv[1]))", workdir],
          capture_output=True, text=True, env=env)
      if proc.returncode:
        lines = proc.stderr.strip().splitlines() or ["exit status %d" % proc.returncode]
        raise RuntimeError(lines[-1])
      out = proc.stdout.strip().splitlines()[-1]
    log(f"exported policy and rewards to {out}")
  except Exception as e:  # noqa: BLE001  (the checkpoints stand; export can be rerun)
    print(f"warning: export failed ({_first_line(e)}); checkpoints are fine, rerun: "
          f"python -m experiments.export --workdir={workdir}", file=sys.stderr)


@dataclasses.dataclass(frozen=True)
class ExportedModel:
  """policy(obs, key) -> [B, Ha, act_dim]; reward(obs, actions) -> [B];
  reward_soft_bellman(obs, actions, next_obs) -> [B]. Demo units; a horizon of 1 may be
  left out of obs and actions, as with efjax.load."""
  metadata: dict
  exported: dict                      # name -> jax.export.Exported
  calls: dict = dataclasses.field(init=False, repr=False)

  def __post_init__(self):
    # one jit per function, so each batch size compiles once
    object.__setattr__(self, "calls", {k: jax.jit(e.call) for k, e in self.exported.items()})

  def _expand(self, x, shape_key):
    """[B, dim] -> [B, 1, dim] where that horizon is 1, as efjax.load accepts."""
    x = jnp.asarray(x, jnp.float32)
    return x[:, None, :] if x.ndim == 2 and self.metadata[shape_key][0] == 1 else x

  def policy(self, obs, key):
    if not jax.dtypes.issubdtype(jnp.result_type(key), jax.dtypes.prng_key):
      key = jax.random.wrap_key_data(jnp.asarray(key, jnp.uint32))   # a raw PRNGKey(seed)
    return self.calls["policy"](self._expand(obs, "obs_shape"), key)

  def reward(self, obs, actions):
    return self.calls["reward"](self._expand(obs, "obs_shape"),
                                self._expand(actions, "action_shape"))

  def reward_soft_bellman(self, obs, actions, next_obs):
    return self.calls["reward_soft_bellman"](self._expand(obs, "obs_shape"),
                                             self._expand(actions, "action_shape"),
                                             self._expand(next_obs, "obs_shape"))


def _read(path: str) -> bytes:
  try:
    with open(path, "rb") as f:
      return f.read()
  except OSError as e:
    raise ExportError(f"{path}: cannot read ({e.strerror or e})") from None


def load(path: str) -> ExportedModel:
  """Loads an export directory with json and jax.export.deserialize only.

  Every .jaxexport file is checked against its sha256 in metadata.json before it is
  deserialized; a missing, truncated or altered file raises ExportError naming it.
  """
  meta_path = os.path.join(path, METADATA_FILE)
  try:
    metadata = json.loads(_read(meta_path))
  except ValueError as e:
    if isinstance(e, ExportError):
      raise
    raise ExportError(f"{meta_path}: not valid JSON ({e})") from None
  if not isinstance(metadata, dict) or metadata.get("format_version") != FORMAT_VERSION:
    raise ExportError(f"{meta_path}: format_version is not {FORMAT_VERSION}")
  exported = {}
  for name in NAMES:
    entry = metadata.get("functions", {}).get(name)
    if not isinstance(entry, dict) or "sha256" not in entry:
      raise ExportError(f"{meta_path}: functions.{name}.sha256 is missing")
    file = os.path.join(path, f"{name}.jaxexport")
    blob = _read(file)
    digest = hashlib.sha256(blob).hexdigest()
    if digest != entry["sha256"]:
      raise ExportError(f"{file}: sha256 {digest[:12]}... does not match metadata.json "
                        f"({entry['sha256'][:12]}...): the file was altered or truncated")
    try:
      exported[name] = jax_export.deserialize(bytearray(blob))
    except Exception as e:  # noqa: BLE001  (flatbuffer errors vary)
      raise ExportError(f"{file}: does not deserialize with jax {jax.__version__} (exported "
                        f"with jax {metadata.get('jax_version')}): {_first_line(e)}") from None
  if not provenance.same_major_minor(metadata.get("jax_version"), jax.__version__):
    print(f"warning: {path} was exported with jax {metadata.get('jax_version')}, this is jax "
          f"{jax.__version__}: serialized functions are only guaranteed across compatible "
          "versions", file=sys.stderr)
  return ExportedModel(metadata=metadata, exported=exported)
