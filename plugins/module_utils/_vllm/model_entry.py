# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The schema of one ``vllm_deploy_models`` entry (and of ``autoscaling``, ``lora_adapters`` items and
``vllm_deploy_canary``): every key the role understands, its type, and the defaults merge.

An unknown key is refused naming the closest known key (``tensor_paralel_size`` -> did you mean
``tensor_parallel_size``?); a value of the wrong type is refused naming the key and what it must be.
Integers and numbers given as strings (``"2"``, as Jinja templating yields them) are converted;
``replicas: two`` is refused. Nothing here talks to the cluster.
"""

from __future__ import annotations

import difflib
import re

# key -> (type, what the key is). Types: int, number, bool, str, dict, list, any (str or dict).
MODEL_KEYS = {
    "name": ("str", "DNS-1035 name of the model's objects"),
    "model": ("str", "Hugging Face id (weights from the Hub) or a path under vllm_deploy_model_mount (weights from the store)"),
    "served_model_name": ("str", "name clients send as `model`"),
    "model_config_path": ("str", "directory with config.json on the controller, for sizing"),
    "model_config": ("dict", "config.json as a dict, for sizing"),
    "model_pvc": ("str", "PVC holding the model store (mounted read-only)"),
    "hf_cache_pvc": ("str", "PVC for the Hugging Face cache of a Hub model (restarts do not re-download)"),
    "replicas": ("int", "pods (or LeaderWorkerSet groups)"),
    "gpu_product": ("str", "nvidia.com/gpu.product the pods land on"),
    "tensor_parallel_size": ("int", "vLLM --tensor-parallel-size"),
    "pipeline_parallel_size": ("int", "vLLM --pipeline-parallel-size"),
    "quantization": ("str", "vLLM --quantization"),
    "kv_cache_dtype": ("str", "vLLM --kv-cache-dtype"),
    "dtype": ("str", "vLLM --dtype"),
    "block_size": ("int", "vLLM --block-size"),
    "max_model_len": ("int", "vLLM --max-model-len; unset or -1: the longest that fits"),
    "max_num_seqs": ("int", "vLLM --max-num-seqs"),
    "max_num_batched_tokens": ("int", "vLLM --max-num-batched-tokens"),
    "gpu_memory_utilization": ("number", "vLLM --gpu-memory-utilization"),
    "enable_prefix_caching": ("bool", "vLLM --enable-prefix-caching / --no-enable-prefix-caching"),
    "lora_adapters": ("list", "LoRA adapters, items {name, path}"),
    "max_loras": ("int", "vLLM --max-loras"),
    "max_lora_rank": ("int", "vLLM --max-lora-rank"),
    "extra_args": ("list", "further vLLM flags, checked against the release"),
    "autoscaling": ("dict", "per-model autoscaling settings"),
    "ingress_host": ("str", "host name of the model's Ingress"),
    "smoke_test": ("bool", "smoke-test this model after its rollout (default: vllm_deploy_smoke_test)"),
}
AUTOSCALING_KEYS = {
    "kind": ("str", "none | hpa | keda"),
    "min_replicas": ("int", "lower bound"),
    "max_replicas": ("int", "upper bound"),
    "waiting_target": ("int", "waiting requests per pod that trigger scale-out"),
    "kv_cache_target": ("number", "KV-cache usage that triggers scale-out"),
    "prometheus_address": ("str", "Prometheus URL KEDA queries"),
    "scale_down_stabilization_s": ("int", "seconds before scaling in"),
}
LORA_KEYS = {
    "name": ("str", "adapter name clients send as `model`"),
    "path": ("str", "adapter directory in the container"),
}
CANARY_KEYS = {
    "model": ("str", "name of the model in vllm_deploy_models"),
    "weight": ("int", "percent of the Ingress host's traffic"),
    "replicas": ("int", "canary pods"),
    "settings": ("dict", "model keys that differ in the canary"),
}

_INT_TEXT = re.compile(r"^[+-]?[0-9]+$")
_NUMBER_TEXT = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$")
_TYPE_WORDS = {"int": "an integer", "number": "a number", "bool": "true or false", "str": "a string",
               "dict": "a mapping", "list": "a list"}


# Keys people reach for that the role derives: say what to set instead of a look-alike key.
DERIVED_KEYS = {
    "gpus_per_pod": "the GPUs of a pod are derived: tensor_parallel_size x pipeline_parallel_size (split over "
                    "nodes when larger than one node); set `tensor_parallel_size`",
    "gpus": "the GPUs of a pod are derived from `tensor_parallel_size` x `pipeline_parallel_size`",
    "num_gpus": "the GPUs of a pod are derived from `tensor_parallel_size` x `pipeline_parallel_size`",
    "resources": "requests and limits are derived (nvidia.com/gpu from the parallel plan, memory from sizing); "
                 "tune them through `tensor_parallel_size`, `max_model_len`, `max_num_seqs`",
    "memory": "the pod memory limit is derived from sizing (recommendations.pod_memory_limit)",
    "image": "the image is role-wide: set vllm_deploy_image (or a canary's vllm_deploy_vllm_version)",
    "args": "vLLM flags go in `extra_args` (checked against the release), or their own keys",
}


def closest(key, known):
    """'did you mean `x`?' for the nearest known key, what to set for a derived one, or the known keys."""
    if known is MODEL_KEYS and key in DERIVED_KEYS:
        return DERIVED_KEYS[key]
    match = difflib.get_close_matches(str(key), list(known), n=1, cutoff=0.6)
    if match:
        return "did you mean `%s`?" % match[0]
    return "known keys: %s" % ", ".join(sorted(known))


def _coerce(value, kind):
    """(ok, value) for one typed value; strings of digits become numbers, 'true'/'false' booleans."""
    if value is None:
        return True, None
    if kind == "int":
        if isinstance(value, bool):
            return False, value
        if isinstance(value, int):
            return True, value
        if isinstance(value, float) and value.is_integer():
            return True, int(value)
        if isinstance(value, str) and _INT_TEXT.match(value.strip()):
            return True, int(value.strip())
        return False, value
    if kind == "number":
        if isinstance(value, bool):
            return False, value
        if isinstance(value, (int, float)):
            return True, value
        if isinstance(value, str) and _NUMBER_TEXT.match(value.strip()):
            return True, float(value.strip())
        return False, value
    if kind == "bool":
        if isinstance(value, bool):
            return True, value
        if isinstance(value, str) and value.strip().lower() in ("true", "yes", "on", "false", "no", "off"):
            return True, value.strip().lower() in ("true", "yes", "on")
        return False, value
    if kind == "str":
        return (isinstance(value, str), value)
    if kind == "dict":
        return (isinstance(value, dict), value)
    if kind == "list":
        return (isinstance(value, (list, tuple)), list(value) if isinstance(value, (list, tuple)) else value)
    return True, value


def check_mapping(entry, schema, where):
    """Return (normalised copy, problems) of one mapping against a schema; keys starting '__' are internal."""
    if not isinstance(entry, dict):
        return None, ["%s must be a mapping of %s, got %r" % (where, ", ".join(sorted(schema)), entry)]
    out, problems = {}, []
    for key, value in entry.items():
        if str(key).startswith("__"):
            out[key] = value
            continue
        if key not in schema:
            problems.append("%s: unknown key `%s`; %s" % (where, key, closest(key, schema)))
            continue
        kind = schema[key][0]
        ok, converted = _coerce(value, kind)
        if not ok:
            problems.append("%s: %s=%r must be %s (%s)" % (where, key, value, _TYPE_WORDS[kind], schema[key][1]))
            continue
        out[key] = converted
    return out, problems


def _where(entry, index):
    name = entry.get("name") if isinstance(entry, dict) else None
    return "model %s" % name if isinstance(name, str) and name else "vllm_deploy_models[%d]" % index


def check_model(entry, index=0, where=None):
    """One model entry (nested autoscaling and lora_adapters included) -> (normalised, problems)."""
    where = where or _where(entry, index)
    out, problems = check_mapping(entry, MODEL_KEYS, where)
    if out is None:
        return None, problems
    if isinstance(out.get("autoscaling"), dict):
        out["autoscaling"], found = check_mapping(out["autoscaling"], AUTOSCALING_KEYS, where + " autoscaling")
        problems += found
    adapters = out.get("lora_adapters")
    if isinstance(adapters, list):
        checked = []
        for pos, adapter in enumerate(adapters):
            item, found = check_mapping(adapter, LORA_KEYS, "%s lora_adapters[%d]" % (where, pos))
            problems += found
            checked.append(item)
        out["lora_adapters"] = checked
    return out, problems


def check_canary(canary):
    """vllm_deploy_canary -> (normalised, problems); its ``settings`` are model keys (except ``name``)."""
    out, problems = check_mapping(canary or {}, CANARY_KEYS, "vllm_deploy_canary")
    if out is None:
        return {}, problems
    if isinstance(out.get("settings"), dict):
        settings = out["settings"]
        if "name" in settings:
            problems.append("vllm_deploy_canary settings: `name` cannot change in a canary; the canary takes "
                            "the name of vllm_deploy_canary.model")
        out["settings"], found = check_model({k: v for k, v in settings.items() if k != "name"},
                                             where="vllm_deploy_canary settings")
        problems += found
    return out, problems


def merge_models(models, defaults=None, canary=None, action="none"):
    """Check every entry and fill the role's defaults; returns ``{models, problems}``.

    ``defaults``: gpu_product, gpu_memory_utilization, model_pvc, hf_cache_pvc (role-wide values; empty
    strings mean unset). ``action`` promote merges the canary settings into the stable model; deploy
    appends the canary entry (``__canary: true``, its own replicas, no autoscaling).
    """
    problems = []
    if not isinstance(models, (list, tuple)) or not models:
        return {"models": [], "problems": ["vllm_deploy_models must be a non-empty list of model entries, e.g. "
                                           "[{name: llama-8b, model_config_path: ..., gpu_product: NVIDIA-L4}]"]}
    base = {k: v for k, v in (defaults or {}).items() if v not in (None, "")}
    checked = []
    for index, entry in enumerate(models):
        out, found = check_model(entry, index)
        problems += found
        if out is not None:
            checked.append(out)
    canary_out, found = check_canary(canary) if action in ("deploy", "promote") else ({}, [])
    problems += found
    if action in ("deploy", "promote"):
        names = [m.get("name") for m in checked]
        if canary_out.get("model") not in names:
            problems.append("vllm_deploy_canary.model=%r must name a model of vllm_deploy_models: %s"
                            % (canary_out.get("model"), names))
        weight = canary_out.get("weight", 10)
        if isinstance(weight, int) and not 0 <= weight <= 100:
            problems.append("vllm_deploy_canary.weight=%r must be a percentage in 0..100, e.g. 10" % (weight,))
    merged = []
    for index, entry in enumerate(checked):
        model = dict(base)
        model.update({k: v for k, v in entry.items() if v is not None})
        where = _where(entry, index)
        if not model.get("name"):
            problems.append("%s: `name` is required (a DNS-1035 label such as llama-8b)" % where)
        if not model.get("gpu_product"):
            problems.append("%s: `gpu_product` is required (the nvidia.com/gpu.product label of the nodes to run on, "
                            "e.g. NVIDIA-H100-80GB-HBM3), or set vllm_deploy_gpu_product" % where)
        if model.get("model_config_path") is None and model.get("model_config") is None:
            problems.append("%s: `model_config_path` (directory with config.json on the controller) or "
                            "`model_config` (its content) is required to size the model" % where)
        if action == "promote" and entry.get("name") == canary_out.get("model"):
            model.update(canary_out.get("settings") or {})
        merged.append(model)
    if action == "deploy":
        stable = [m for m in merged if m.get("name") == canary_out.get("model")]
        if stable:
            model = dict(stable[0])
            model.update(canary_out.get("settings") or {})
            model.update({"replicas": canary_out.get("replicas") if canary_out.get("replicas") is not None else 1,
                          "autoscaling": {"kind": "none"}, "__canary": True})
            merged.append(model)
    return {"models": merged, "problems": problems}
