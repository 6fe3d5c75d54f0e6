"""Data parallelism: on 8 fake CPU devices a training call matches 1 device, with the
state replicated and with it split FSDP-style."""
import importlib.util
import os

import numpy as np

_PATH = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "sharding.py")
_SPEC = importlib.util.spec_from_file_location("benchmarks_sharding", _PATH)
sharding_benchmark = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(sharding_benchmark)


def test_eight_devices_match_one():
  out = sharding_benchmark.run_subprocess()     # benchmarks/sharding.py on 8 fake devices
  one, eight, fsdp = out["1_replicated"], out["8_replicated"], out["8_fsdp"]
  assert eight["devices"] == 8 and one["devices"] == 1
  assert eight["all_reduce"] and not one["all_reduce"]     # the batch really is split
  assert eight["held_params"] == 1.0 and eight["held_opt"] == 1.0
  assert fsdp["held_params"] < 0.3 and fsdp["held_opt"] < 0.3 and fsdp["all_gather"]
  for other in (eight, fsdp):
    np.testing.assert_allclose(other["loss"], one["loss"], rtol=1e-5)
    for a, b in zip(other["params"], one["params"]):
      np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
