"""BENCHMARKS.md's scaling section from the raw results of benchmarks/scaling.py
(results/raw/scaling/table.json): what the compiled sharded train step sends and
computes per device, and the step time and efficiency that predicts on named hardware."""

LAYOUT_ORDER = ("replicated", "fsdp")


def _mb(x: float) -> str:
  return f"{x / 1e6:,.1f}"


def _ms(x: float) -> str:
  return f"{x * 1e3:,.2f}" if x < 1 else f"{x * 1e3:,.0f}"


def _pct(x: float) -> str:
  return f"{x:.0%}" if x >= 0.095 else f"{x:.1%}"


def _batch(x: float) -> str:
  return f"{x:,.0f}" if x >= 10 else f"{x:.1f}"


def _op(c: dict, devices: int) -> str:
  """'all-reduce', or with its groups where they are not all devices."""
  if c["group"] == devices:
    return c["op"]
  apart = "" if c.get("stride") == 1 else (f", ids {c['stride']} apart" if c.get("stride")
                                           else ", uneven ids")
  return f"{c['op']} (groups of {c['group']}{apart})"


def _order(e: dict):
  return (e["model"], LAYOUT_ORDER.index(e["layout"]) if e["layout"] in LAYOUT_ORDER else 9,
          e["devices"])


def compiled_table(raw: dict) -> list[str]:
  lines = ["| model | params | layout | N | collectives per step: count, MB (whole arrays) "
           "| sent per device, MB | minimum, MB | GFLOP per sample | forced regathers | compile |",
           "|---|---:|---|---:|---|---:|---:|---:|---:|---:|"]
  for e in sorted(raw["entries"], key=_order):
    ops = "; ".join(f"{_op(c, e['devices'])} {c['count']}, {_mb(c['full_bytes'])}"
                    for c in e["collectives"])
    per_sample = e["flops_per_device"] * e["devices"] / e["batch"] / 1e9
    lines.append(f"| {e['model']} | {e['params'] / 1e6:,.1f}M | {e['layout']} | {e['devices']} | "
                 f"{ops} | {_mb(e['sent_bytes'])} | {_mb(e['ideal_sent_bytes'])} | "
                 f"{per_sample:.2f} | {e['involuntary_rematerializations']} | "
                 f"{e['compile_s']:.0f} s |")
  return lines


def prediction_table(raw: dict) -> list[str]:
  hardware = raw["hardware"]
  b = raw["settings"]["per_device_batch"]
  paper = raw["settings"]["paper_batch"]
  lines = [f"| hardware | model | layout | N | step at {b}/device: compute + comm, ms | "
           f"efficiency at {b}/device | at batch {paper} in all | stops scaling below, per "
           "device (global) |", "|---|---|---|---:|---:|---:|---:|---:|"]
  order = list(hardware)
  for p in sorted(raw["predictions"], key=lambda p: (order.index(p["hardware"]),) + _order(p)):
    at, small = p["compiled_batch"], p["paper_batch"]
    lines.append(
        f"| {hardware[p['hardware']]['name']} | {p['model']} | {p['layout']} | {p['devices']} | "
        f"{_ms(at['compute_s'])} + {_ms(at['comm_s'])} | {_pct(at['efficiency'])} | "
        f"{_pct(small['efficiency'])} | {_batch(p['stop_per_device_batch'])} "
        f"({_batch(p['stop_global_batch'])}) |")
  return lines


def benchmarks_section(raw: dict) -> str:
  """The generated part of BENCHMARKS.md's scaling section."""
  s = raw["settings"]
  fp = raw["fingerprint"]
  commit = (fp["code"].get("commit") or "?")[:7] + ("+dirty" if fp["code"].get("dirty") else "")
  lines = [f"`{raw['command']}` on {raw['date']}: {raw['wall_s']:,} s on "
           f"{fp['platform']['cpu']}, jax {fp['versions']['jax']}, commit {commit}. Each program "
           f"is `efjax.train.make_train_step` at {s['per_device_batch']} samples per device, "
           f"conv_impl '{s['conv_impl']}', compiled (never run) on N fake CPU devices.", "",
           "What the compiled programs move and compute (per step; \"sent\": bytes one device "
           "sends under ring algorithms; \"minimum\": one float32 gradient all-reduce, or for "
           "fsdp one all-gather and one reduce-scatter of each split parameter; \"forced "
           "regathers\": XLA's warnings that it could not reshard an array and made it whole "
           "first):", ""]
  lines += compiled_table(raw)
  lines += ["", f"Predicted on named hardware at {s['utilization']:.0%} of peak FLOP/s, "
            "communication " + ("overlapped with" if s["overlap"] else "not overlapped with")
            + " compute, bandwidth terms only:", ""]
  lines += prediction_table(raw)
  lines += ["", "Hardware figures:"]
  for hw in raw["hardware"].values():
    peak = ", ".join(f"{k} {v / 1e12:,.1f} TFLOP/s" for k, v in hw["peak"].items())
    node = (f", between nodes {hw['node_link'] / 1e9:,.0f} GB/s per node"
            if hw.get("node_link") else "")
    lines.append(f"- {hw['name']}: peak {peak}; link {hw['link'] / 1e9:,.0f} GB/s each way per "
                 f"device{node}. Source: {hw['source']}.")
  return "\n".join(lines) + "\n"


def _entry(raw, model, layout, devices):
  return next(e for e in raw["entries"]
              if (e["model"], e["layout"], e["devices"]) == (model, layout, devices))


def _predictions(raw, model, layout):
  return [p for p in raw["predictions"] if (p["model"], p["layout"]) == (model, layout)]


SHORT_NAMES = {"h100_node": "one H100 node", "h100_ib": "4 H100 nodes over InfiniBand",
               "tpu_v5e": "TPU v5e"}


def _stops(raw, model, layout) -> str:
  """'149 per device on one H100 node at N = 8 (1,191 in all); ...' for each predicted row."""
  hardware = raw["hardware"]
  return "; ".join(f"{_batch(p['stop_per_device_batch'])} per device on "
                   f"{SHORT_NAMES.get(p['hardware'], hardware[p['hardware']]['name'])} "
                   f"at N = {p['devices']} "
                   f"({_batch(p['stop_global_batch'])} in all)"
                   for p in _predictions(raw, model, layout))


def findings(raw: dict) -> str:
  """BENCHMARKS.md's reading of the scaling tables: each figure computed from the raw rows."""
  s = raw["settings"]
  devices = sorted({e["devices"] for e in raw["entries"]})
  rep8 = _entry(raw, "paper", "replicated", devices[0])
  gflop = rep8["flops_per_device"] * rep8["devices"] / rep8["batch"] / 1e9
  node = next(p for p in _predictions(raw, "paper", "replicated") if p["devices"] == devices[0])
  at = node["compiled_batch"]
  many = [p["paper_batch"]["efficiency"] for p in _predictions(raw, "paper", "replicated")
          if p["devices"] > devices[0]]
  fsdp_ratio = [_entry(raw, "paper", "fsdp", n)["sent_bytes"]
                / _entry(raw, "paper", "replicated", n)["sent_bytes"] for n in devices]
  fsdp8 = _entry(raw, "paper", "fsdp", devices[0])
  gathers = sum(c["full_bytes"] for c in fsdp8["collectives"] if c["op"] == "all-gather")
  wide_rep, wide_fsdp = (_entry(raw, "wide10", lay, devices[0]) for lay in ("replicated", "fsdp"))
  wide_later = [_entry(raw, "wide10", "fsdp", n) for n in devices[1:]]
  remats = [e["involuntary_rematerializations"] for e in wide_later
            if e["involuntary_rematerializations"]]
  wide_stop = next(p for p in _predictions(raw, "wide10", "fsdp") if p["devices"] == devices[0])
  reduce = sum(c["full_bytes"] for c in rep8["collectives"] if c["op"] == "all-reduce")
  lines = [
      f"- **The paper batch does not fill one node.** The paper network does {gflop:.2f} GFLOP "
      f"per sample for {rep8['params'] / 1e6:.1f}M parameters, so at {s['per_device_batch']} "
      f"samples per device the {devices[0]} devices of one H100 node would spend "
      f"{_ms(at['compute_s'])} ms computing and {_ms(at['comm_s'])} ms all-reducing "
      f"({_pct(at['efficiency'])} efficient). The replicated layout stops scaling below: "
      f"{_stops(raw, 'paper', 'replicated')}. At the paper's batch of {s['paper_batch']} in "
      f"all, {devices[1]} or more devices are {_pct(min(many))}-{_pct(max(many))} efficient.",
      f"- **fsdp needs larger batches still** ({_stops(raw, 'paper', 'fsdp')}), because for "
      f"the paper network it sends {min(fsdp_ratio):.1f}-{max(fsdp_ratio):.1f}x the "
      "replicated layout's bytes: each split kernel is all-gathered more than once per step "
      f"({_mb(gathers)} MB of gathers for {_mb(4 * fsdp8['params'])} MB of float32 "
      "parameters at N = "
      f"{devices[0]}: the forward, the grad_a E pass and the backward), and on CPU the gradient "
      "is all-reduced whole before each device keeps its slice (GPU and TPU pipelines would "
      f"make that a reduce-scatter, half its bytes). Only `wide10` on {devices[0]} devices "
      f"gains from fsdp ({wide_fsdp['sent_bytes'] / 1e9:.1f} GB sent against "
      f"{wide_rep['sent_bytes'] / 1e9:.1f} GB; it stops scaling below "
      f"{_batch(wide_stop['stop_per_device_batch'])} per device); from {devices[1]} devices on "
      f"it sends {min(e['sent_bytes'] for e in wide_later) / 1e9:.0f}-"
      f"{max(e['sent_bytes'] for e in wide_later) / 1e9:.0f} GB, as XLA reshards activations "
      "(all-to-all" + (f", and {min(remats)}-{max(remats)} \"involuntary full "
                       "rematerialization\" warnings" if remats else "")
      + "): the split of each kernel's largest axis leaks into the activations.",
      f"- **The gradient all-reduce is {reduce / (4 * rep8['params']):.2f}x the gradient.** "
      "The DSM loss reads grad_a E, so each backbone kernel on the action path gets two batch "
      "sums (from the primal and from the tangent of that gradient), and XLA all-reduces the "
      f"two before adding them ({_mb(reduce)} MB for a {_mb(4 * rep8['params'])} MB "
      "gradient). XLA's GPU pipeline has a pass (all-reduce reassociation) that could fold "
      "them; this was not compiled for GPU here. The \"minimum\" column is what a "
      "data-parallel step needs."]
  return "\n".join(lines) + "\n"
