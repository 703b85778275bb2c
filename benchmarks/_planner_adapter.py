# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run llm-d-planner's capacity planner (PyPI llm-d-planner) on the sizing_accuracy cases.

Runs inside the planner's own virtualenv (``sizing_accuracy.py --planner <python>``); reads the
cases as JSON on stdin, prints {case id: {kv_cache_gib, kv_cache_tokens}} on stdout.

The planner normally asks the Hugging Face API for the checkpoint's parameter counts and for
``AutoConfig``; neither is reachable offline, so this adapter (1) builds the config object from the
same config.json files, and (2) gives the planner the weight size vLLM itself logged ("Model
loading took", x TP x PP) where the case has it - which favours the planner - and otherwise our
architecture estimate. The GPU memory is the planner's own catalog value (memory_gb), as its
recommendation path uses it.
"""

import json
import sys
from types import SimpleNamespace

from planner import capacity_planner as cp
from planner.data._resolver import data_path


def to_ns(value):
    if isinstance(value, dict):
        return SimpleNamespace(**{k: to_ns(v) for k, v in value.items()})
    if isinstance(value, list):
        return [to_ns(v) for v in value]
    return value


def catalog_gib():
    with open(data_path("configuration/gpu_catalog.json"), encoding="utf-8") as handle:
        data = json.load(handle)
    out = {}
    for gpu in data["gpu_types"]:
        for alias in [gpu.get("gpu_type", "")] + list(gpu.get("aliases", [])):
            out[str(alias).upper()] = float(gpu["memory_gb"])
    return out


def main():
    cases = json.load(sys.stdin)
    catalog = catalog_gib()
    out = {"_version": "0.3.3"}
    for case in cases:
        try:
            with open(case["model_dir"] + "/config.json", encoding="utf-8") as handle:
                raw = json.load(handle)
            cfg = to_ns(raw)
            if not hasattr(cfg, "quantization_config"):
                pass
            elif isinstance(raw.get("quantization_config"), dict):
                cfg.quantization_config = raw["quantization_config"]
            tp, pp = case["tp"], case["pp"]
            weights_total = case["weights_gib"] * tp * pp
            cp.model_memory_req = lambda *a, _w=weights_total, **k: _w  # noqa: E731
            gpu = case.get("gpu_label") or ""
            gpu_gib = catalog.get(gpu.upper(), catalog.get(case.get("gpu_name", "").upper(), case["gpu_gib"]))
            kv_total = cp.allocatable_kv_cache_memory(case["id"], cfg, gpu_gib, case["util"], tp, pp, 1,
                                                      max_model_len=case["max_model_len"])
            blocks = cp.total_kv_cache_blocks(case["id"], cfg, case["max_model_len"], gpu_gib, case["util"],
                                              tp=tp, pp=pp)
            out[case["id"]] = {"kv_cache_gib": kv_total / (tp * pp), "kv_cache_tokens": blocks * 16,
                               "gpu_gib": gpu_gib}
        except Exception as err:  # report, do not hide: the row shows '-'
            out[case["id"]] = {"error": "%s: %s" % (type(err).__name__, err)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
