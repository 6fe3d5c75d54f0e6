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
