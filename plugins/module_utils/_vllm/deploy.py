# -*- coding: utf-8 -*-
# Copyright: (c) 2026, llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The whole vllm_deploy decision in one pure call: schema, sizing, parallelism, placement, references,
CRDs and every manifest. Reads nothing and writes nothing; the role reads the cluster, calls
``plan_deployment`` once (module vllm_deploy_plan) and applies what it returns.
"""

from __future__ import annotations

import math

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing import parallel as sparallel
from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing import sizing as ssizing
from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import manifests
from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import model_entry
from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import plan as vplan

_SIZING_KEYS = ("max_num_seqs", "max_num_batched_tokens", "kv_cache_dtype", "quantization", "dtype", "block_size")


def _unpinned(value):
    return value is None or value == -1


def size(model, vllm_version, max_model_len=None):
    """The vllm_sizing result for one checked model entry; a refusal becomes {failed, msg} as from the module."""
    kwargs = {k: model.get(k) for k in _SIZING_KEYS}
    mml = model.get("max_model_len") if max_model_len is None else max_model_len
    try:
        return ssizing.size_model(
            model_path=model.get("model_config_path"), model_config=model.get("model_config"),
            gpu_model=model.get("gpu_product"), tensor_parallel_size=model.get("tensor_parallel_size") or 1,
            pipeline_parallel_size=model.get("pipeline_parallel_size") or 1,
            gpu_memory_utilization=float(model["gpu_memory_utilization"]) if model.get("gpu_memory_utilization") is not None
            else None, max_model_len=None if _unpinned(mml) else int(mml), vllm_version=vllm_version, **kwargs)
    except (LlmopsError, ValueError, TypeError, KeyError, OSError) as err:
        return {"failed": True, "msg": str(err)}


def size_and_fit(model, vllm_version):
    """(sizing, model) - a model without a pinned max_model_len that does not fit is re-sized once at the
    longest context that fits (vLLM would otherwise refuse to start); pinned values are never changed."""
    first = size(model, vllm_version)
    recommended = int((first.get("recommendations") or {}).get("max_model_len") or 0)
    if first.get("fits") is False and _unpinned(model.get("max_model_len")) and recommended > 0:
        return size(model, vllm_version, recommended), dict(model, max_model_len=recommended)
    return first, model


def check_parallel(model, nodes):
    """The vllm_parallel result for one model against the GPUs per node of its product (MIG from labels)."""
    tp = int(model.get("tensor_parallel_size") or 1)
    pp = int(model.get("pipeline_parallel_size") or 1)
    gpn = max(vplan.gpus_per_node(nodes, model.get("gpu_product")), 1)
    try:
        arch = ssizing.load_arch(model.get("model_config_path"), model.get("model_config"))[0]
        arch = ssizing.apply_quantization(arch, model.get("quantization"))
        return sparallel.validate(arch, tensor_parallel_size=tp, pipeline_parallel_size=pp, gpus_per_node=gpn,
                                  gpu_request=min(tp * pp, gpn), nodes=int(math.ceil(tp * pp / float(gpn))),
                                  mig=vplan.is_mig(nodes, model.get("gpu_product")),
                                  max_num_seqs=model.get("max_num_seqs"),
                                  max_num_batched_tokens=model.get("max_num_batched_tokens"))
    except (LlmopsError, ValueError, TypeError, KeyError, OSError) as err:
        return {"failed": True, "msg": str(err)}


def reference_problems(plans, settings, cluster):
    """Namespace, Secrets (and their keys) and PVCs the pods reference that are missing."""
    s = manifests.settings_with_defaults(settings)
    ns = s["namespace"]
    problems = []
    if not s["create_namespace"] and not cluster.get("namespace_exists", True):
        problems.append("Namespace %s does not exist; create it before deploying (the pods reference it), or set "
                        "vllm_deploy_create_namespace: true" % ns)
    secrets = cluster.get("secrets") or {}
    for setting in ("hf_token_secret", "api_key_secret"):
        ref = s.get(setting) or {}
        if not ref.get("name"):
            continue
        if ref["name"] not in secrets:
            problems.append("Secret %s/%s does not exist; create it before deploying (the pods reference it)"
                            % (ns, ref["name"]))
        elif ref.get("key") and ref["key"] not in (secrets[ref["name"]] or []):
            problems.append("Secret %s/%s has no key %s; keys present: %s"
                            % (ns, ref["name"], ref["key"], ", ".join(secrets[ref["name"]] or [])))
    pvcs = set(cluster.get("pvcs") or [])
    wanted = []
    for p in plans:
        for pvc in ((p.get("weights") or {}).get("pvc"), (p.get("weights") or {}).get("hf_cache_pvc")):
            if pvc and pvc not in wanted:
                wanted.append(pvc)
    for pvc in wanted:
        if pvc not in pvcs:
            problems.append("PersistentVolumeClaim %s/%s does not exist; create it before deploying (the pods "
                            "reference it)" % (ns, pvc))
    return problems


def cluster_from_reads(reads):
    """The ``cluster`` input from k8s_read_set results: ids nodes, pods, pvcs, live, namespace (only when the
    role does not create it), secret/<name> and crd/<name> (one per object read by name)."""
    reads = reads or {}
    cluster = {
        "nodes": reads.get("nodes") or [],
        "pods": reads.get("pods") or [],
        "pvcs": [o["metadata"]["name"] for o in reads.get("pvcs") or []],
        "secrets": {},
        "crds": [],
        "live_replicas": {o["metadata"]["name"]: (o.get("spec") or {}).get("replicas") for o in reads.get("live") or []},
    }
    if "namespace" in reads:
        cluster["namespace_exists"] = bool(reads["namespace"])
    for key, found in reads.items():
        if key.startswith("secret/") and found:
            cluster["secrets"][key[len("secret/"):]] = sorted((found[0].get("data") or {}).keys())
        elif key.startswith("crd/") and found:
            cluster["crds"].append(key[len("crd/"):])
    return cluster


def plan_deployment(models, defaults=None, canary=None, action="none", options=None, settings=None, cluster=None):
    """One call for the role. Returns {plans, canary, objects, canary_objects, kinds, canary_kinds, crds,
    problems, warnings}; nothing is rendered when there are problems (objects are then empty)."""
    options = dict(options or {})
    cluster = dict(cluster or {})
    empty = {"plans": [], "canary": None, "objects": [], "canary_objects": [], "kinds": manifests.kinds("stable"),
             "canary_kinds": manifests.kinds("canary"), "crds": [], "warnings": []}
    try:
        render_settings = manifests.settings_with_defaults(settings)
    except ValueError as err:
        return dict(empty, problems=[str(err)])
    platform = render_settings.get("platform") or "auto"
    if platform not in manifests.PLATFORMS:
        return dict(empty, problems=["vllm_deploy_platform=%r is not one of %s" % (platform, ", ".join(manifests.PLATFORMS))])
    if platform == "auto":
        platform = "openshift" if manifests.OPENSHIFT_CRD in (cluster.get("crds") or []) else "kubernetes"
    render_settings = dict(render_settings, platform=platform)
    if platform == "openshift" and action != "none" and render_settings["ingress_enabled"]:
        return dict(empty, problems=["canary_action=%s: the canary's traffic split is an NGINX Ingress canary; on "
                                     "OpenShift (Routes) it is not supported yet. Deploy the new version as its own "
                                     "model, or set vllm_deploy_ingress_enabled: false" % action])
    checked = model_entry.merge_models(models, defaults, canary, action)
    if checked["problems"]:
        return dict(empty, problems=checked["problems"])
    version = options.get("vllm_version")
    nodes = vplan.summarize_nodes(cluster.get("nodes") or [])
    sized = [size_and_fit(m, version) for m in checked["models"]]
    entries = [m for _s, m in sized]
    sizings = [s for s, _m in sized]
    parallels = [check_parallel(m, nodes) for m in entries]
    stable = [i for i, m in enumerate(entries) if not m.get("__canary")]
    canary_in = None
    if action == "deploy":
        canary_in = {"model": entries[-1], "sizing": sizings[-1], "parallel": parallels[-1]}
    result = vplan.plan_all([entries[i] for i in stable], [sizings[i] for i in stable], [parallels[i] for i in stable],
                            cluster.get("nodes") or [], options, cluster.get("pods") or [], canary_in)
    plans = result["plans"]
    all_plans = plans + ([result["canary"]] if result["canary"] else [])
    problems = (list(result["problems"]) + manifests.settings_problems(render_settings, all_plans)
                + reference_problems(all_plans, render_settings, cluster))
    out = dict(empty, plans=plans, canary=result["canary"], warnings=list(result["warnings"]))
    if problems:
        return dict(out, problems=problems)
    rendered = manifests.render_all(plans, render_settings, result["canary"], action, cluster.get("live_replicas"))
    present = set(cluster.get("crds") or [])
    for crd in rendered["crds"]:
        if crd not in present:
            problems.append("CRD %s is not installed; install its operator (monitoring role, KEDA, LeaderWorkerSet) "
                            "or turn the feature off" % crd)
    if problems:
        return dict(out, problems=problems)
    out.update(rendered)
    out["problems"] = []
    out["platform"] = platform
    return out
