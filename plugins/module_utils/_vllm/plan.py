# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn one model entry + its sizing/parallel results + the cluster's nodes into a deployment plan.

Pure functions: the role feeds in what the sizing modules and the API returned, gets back every
number its templates need (args, GPU request, memory, /dev/shm, probe budget, autoscaling and alert
thresholds, metric names), or a list of problems worded so the user knows what to change.
"""

from __future__ import annotations

import hashlib
import json
import math
import re

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import args as vargs
from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import releases

GPU_RESOURCE = "nvidia.com/gpu"
PRODUCT_LABEL = "nvidia.com/gpu.product"
MEMORY_LABEL = "nvidia.com/gpu.memory"
GIB = 1024 ** 3

_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_HOST = re.compile(r"^(\*\.)?%s(\.%s)*$" % (_DNS1123_LABEL, _DNS1123_LABEL))
_MIG_PRODUCT = re.compile(r"-MIG-\d+g\.\d+gb", re.IGNORECASE)
_MIG_COUNT_LABEL = re.compile(r"^nvidia\.com/mig-\d+g\.\d+gb\.count$")
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
_SUFFIX = {None: 1, "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60,
           "k": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12, "P": 10 ** 15, "E": 10 ** 18}

# Longest object name the role derives from a model name: "<name>-canary-metrics" fits in 63.
MAX_NAME_LEN = 40


def check_name(name, what="model name"):
    """DNS-1035 label (Service names need it) short enough for the derived object names."""
    if not isinstance(name, str) or not _DNS1035.match(name) or len(name) > MAX_NAME_LEN:
        raise LlmopsError(
            "%s %r is not usable for Kubernetes object names: it must be a DNS-1035 label (lower-case "
            "letters, digits and '-', starting with a letter, ending alphanumeric) of at most %d "
            "characters, e.g. %r" % (what, name, MAX_NAME_LEN, _suggest(name))
        )
    return name


def check_host(host, what="ingress_host"):
    """An Ingress host: a lower-case RFC 1123 DNS name (an optional leading '*.' wildcard), no port, no IP."""
    if host is None:
        return None
    text = str(host)
    if len(text) > 253 or not _HOST.match(text) or re.match(r"^[0-9.]+$", text):
        raise LlmopsError(
            "%s=%r is not a host name the Ingress API accepts: it must be a lower-case DNS name "
            "(RFC 1123: letters, digits, '-' and '.', optionally starting with '*.'), without port, "
            "path or IP address, e.g. 'llama.example.com'" % (what, host))
    return text


def _suggest(name):
    text = re.sub(r"[^a-z0-9-]+", "-", str(name).lower()).strip("-")
    text = re.sub(r"^[^a-z]+", "", text)[:MAX_NAME_LEN].rstrip("-")
    return text or "llama-8b"


def quantity_bytes(value):
    """Kubernetes quantity ('64Gi', '500M', 68719476736) -> bytes; numbers < 2**20 are read as GiB."""
    if isinstance(value, bool) or value is None:
        raise LlmopsError("memory size %r is not a Kubernetes quantity such as '64Gi'" % (value,))
    if isinstance(value, (int, float)):
        return int(value * GIB) if value < 2 ** 20 else int(value)
    match = _QUANTITY.match(str(value).strip())
    if not match:
        raise LlmopsError("memory size %r is not a Kubernetes quantity such as '64Gi'" % (value,))
    return int(float(match.group(1)) * _SUFFIX[match.group(2)])


def gib_quantity(nbytes):
    """Bytes -> whole GiB, rounded up, as a quantity string."""
    return "%dGi" % max(1, int(math.ceil(nbytes / float(GIB))))


# ---------------------------------------------------------------- nodes
def summarize_nodes(node_objects):
    """Node API objects -> [{name, product, gpus, memory_mib, schedulable, taints, labels}]."""
    out = []
    for node in node_objects or []:
        meta = node.get("metadata") or {}
        labels = meta.get("labels") or {}
        status = node.get("status") or {}
        alloc = (status.get("allocatable") or {}).get(GPU_RESOURCE) or (status.get("capacity") or {}).get(GPU_RESOURCE)
        try:
            gpus = int(alloc or 0)
        except ValueError:
            gpus = 0
        spec = node.get("spec") or {}
        mem = labels.get(MEMORY_LABEL)
        out.append({
            "name": meta.get("name"),
            "product": labels.get(PRODUCT_LABEL),
            "gpus": gpus,
            "memory_mib": int(mem) if mem and str(mem).isdigit() else None,
            "schedulable": not spec.get("unschedulable", False),
            "taints": spec.get("taints") or [],
            "labels": labels,
        })
    return out


def _tolerates(taint, tolerations):
    if taint.get("effect") not in ("NoSchedule", "NoExecute"):
        return True
    for tol in tolerations or []:
        if tol.get("effect") and tol.get("effect") != taint.get("effect"):
            continue
        if tol.get("operator") == "Exists" and (not tol.get("key") or tol.get("key") == taint.get("key")):
            return True
        if tol.get("key") == taint.get("key") and tol.get("value") == taint.get("value"):
            return True
    return False


def _matches(labels, selectors):
    if isinstance(selectors, dict):
        selectors = [selectors]
    return any(sel and all(labels.get(k) == v for k, v in sel.items()) for sel in selectors or [])


def gpus_in_use(pod_objects, exclude=None):
    """GPUs requested per node by live pods, except pods whose labels match ``exclude`` (label dict(s))."""
    used = {}
    for pod in pod_objects or []:
        meta = pod.get("metadata") or {}
        if _matches(meta.get("labels") or {}, exclude):
            continue
        status = pod.get("status") or {}
        if status.get("phase") in ("Succeeded", "Failed"):
            continue
        node = (pod.get("spec") or {}).get("nodeName")
        if not node:
            continue
        total = 0
        for container in (pod.get("spec") or {}).get("containers") or []:
            res = container.get("resources") or {}
            value = (res.get("limits") or {}).get(GPU_RESOURCE) or (res.get("requests") or {}).get(GPU_RESOURCE)
            total += int(value or 0)
        used[node] = used.get(node, 0) + total
    return used


def is_mig(nodes, product):
    """True when the GPUs of ``product`` are MIG slices: a GFD product name with -MIG-<profile> (single
    strategy), or nodes of that product whose labels say MIG is enabled (mig.config other than
    all-disabled, or per-profile nvidia.com/mig-<profile>.count labels of the mixed strategy)."""
    if product and _MIG_PRODUCT.search(str(product)):
        return True
    for node in nodes:
        if product and node["product"] != product:
            continue
        labels = node["labels"]
        if labels.get("nvidia.com/mig.strategy") not in ("single", "mixed"):
            continue
        config = labels.get("nvidia.com/mig.config")
        if (config and config != "all-disabled") or any(_MIG_COUNT_LABEL.match(k) for k in labels):
            return True
    return False


def gpus_per_node(nodes, product):
    """Largest allocatable nvidia.com/gpu among schedulable nodes of a GPU product (0 when none)."""
    return max([n["gpus"] for n in nodes if n["product"] == product and n["schedulable"]] or [0])


def placement(model, nodes, tolerations, node_selector=None):
    """The nodes a model's pods can land on: its GPU product, schedulable, taints tolerated."""
    product = model.get("gpu_product")
    extra = node_selector or {}
    candidates = []
    for node in nodes:
        if product and node["product"] != product:
            continue
        if node["gpus"] <= 0 or not node["schedulable"]:
            continue
        if any(node["labels"].get(k) != v for k, v in extra.items()):
            continue
        if not all(_tolerates(t, tolerations) for t in node["taints"]):
            continue
        candidates.append(node)
    return candidates


# ---------------------------------------------------------------- the plan
def _prefixed(name, err):
    """'model <name>: <message>' once, whether or not the core message already names the model."""
    text = str(err)
    prefix = "model %s: " % name
    return text if text.startswith(prefix) else prefix + text


def weights_source(model, options):
    """Where a model's weights come from, decided per model; returns (weights, problems).

    - no ``model``: the store (``model_pvc`` mounted read-only at ``model_mount``, path <mount>/<name>/current, the
      release model_store switched to last, for a model staged under the same name), offline;
    - ``model`` an absolute path: the store; the path must lie under the mount of a configured ``model_pvc``;
    - ``model`` a Hugging Face id: the Hub (online, HF_TOKEN from the token Secret when set, the HF cache on
      ``hf_cache_pvc`` when set, otherwise an emptyDir with a warning); refused when ``offline`` says the pods
      cannot reach the Hub.
    """
    name = model.get("name")
    mount = str(options.get("model_mount") or "/models").rstrip("/") or "/"
    pvc = model.get("model_pvc") or None
    value = model.get("model")
    out = {"source": "store", "model": value, "pvc": pvc, "mount": mount, "offline": True,
           "hf_cache_pvc": None, "warnings": []}
    problems = []
    if value in (None, ""):
        out["model"] = "%s/%s/current" % (mount, name)
        if not pvc:
            problems.append(
                "model %s: no `model` and no model PVC: the pod would have no weights. Stage the model with "
                "model_store and set model_pvc (or vllm_deploy_model_pvc), or set `model` to a Hugging Face id"
                % name)
        return out, problems
    value = str(value)
    if value.startswith("/"):
        under = value == mount or value.startswith(mount + "/")
        if not pvc or not under:
            problems.append(
                "model %s: model=%s is a path in the container, but %s; the container would not find the "
                "weights (vLLM: 'Invalid repository ID or local directory specified'). Put the model under "
                "%s/ on model_pvc, or set `model` to a Hugging Face id to download it"
                % (name, value, "no model PVC is configured" if not pvc else
                   "model_pvc=%s is mounted at %s, not above that path" % (pvc, mount), mount))
        return out, problems
    out.update({"source": "hub", "offline": False, "pvc": None,
                "hf_cache_pvc": model.get("hf_cache_pvc") or None})
    on_store = [a.get("path") for a in model.get("lora_adapters") or []
                if isinstance(a, dict) and str(a.get("path") or "").startswith(mount + "/")]
    if on_store:
        if pvc:
            out["pvc"] = pvc  # mounted for the adapters only; the base model still comes from the Hub
        else:
            problems.append("model %s: LoRA adapter path(s) %s lie under %s, but no model PVC is configured to "
                            "mount there; set model_pvc or give the adapters' paths where the image has them"
                            % (name, ", ".join(on_store), mount))
    if options.get("offline"):
        problems.append(
            "model %s: model=%s is a Hugging Face id, but vllm_deploy_offline is true (the pods cannot reach "
            "the Hub), so the pod could not download it. Stage it with model_store and leave `model` out "
            "(weights from %s/%s/current on the model PVC)" % (name, value, mount, name))
    elif not out["hf_cache_pvc"]:
        out["warnings"].append(
            "model %s: weights of %s are downloaded from the Hugging Face Hub into an emptyDir: every pod "
            "(re)start downloads them again; set hf_cache_pvc (or vllm_deploy_hf_cache_pvc) to keep them, or "
            "stage the model with model_store" % (name, value))
    return out, problems


def _sizing_value(sizing, key):
    recs = sizing.get("recommendations") or {}
    return recs.get(key)


#: how long each alert's condition must hold before it fires (PrometheusRule ``for``), by alert
ALERT_FOR = {"kv_cache": "10m", "waiting": "5m", "preempting": "15m", "error_rate": "5m", "ttft": "10m",
             "restarts": "0m", "not_ready": None}
#: ``not_ready`` has no fixed default: a pod is legitimately not ready while vLLM loads its weights, so the
#: alert waits for the plan's startup budget (startupProbe failureThreshold x period) plus 5 minutes.
_DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")


def alert_durations(given, startup_budget_s=0):
    """ALERT_FOR overlaid with ``given`` -> (durations, problems): unknown alerts and non-durations refused."""
    out, problems = dict(ALERT_FOR), []
    out["not_ready"] = "%dm" % (int(math.ceil(startup_budget_s / 60.0)) + 5)
    for key, value in sorted((given or {}).items()):
        if key not in ALERT_FOR:
            problems.append("alert_for.%s is not an alert; known: %s" % (key, ", ".join(sorted(ALERT_FOR))))
        elif not _DURATION.match(str(value)):
            problems.append("alert_for.%s=%r is not a Prometheus duration such as '30s', '5m' or '1h30m'" % (key, value))
        else:
            out[key] = str(value)
    return out, problems


def derive(model, sizing, parallel, nodes, options, free=None, track="stable"):
    """Return (plan, problems).  ``problems`` empty means the model can be deployed as planned.

    ``free``: node name -> free GPUs; the pods of this plan are placed (spread) and subtracted, so
    several models planned in a row do not count the same GPUs twice.
    ``options``: vllm_version, image, container_port, tolerations, node_selector, instance,
    load_gib_per_s, startup_overhead_s, probe_period_s, prestop_sleep_s, termination_grace_s,
    autoscaling (defaults dict), waiting_ratio, kv_cache_alert, error_ratio_alert, waiting_alert (0: the sized
    capacity), alert_for (ALERT_FOR keys -> Prometheus durations), memory_headroom,
    typical_request_tokens, rolling_max_surge.
    """
    problems = []
    name = model.get("name")
    try:
        check_name(name)
    except LlmopsError as err:
        return None, [str(err)]
    version = options.get("vllm_version") or releases.DEFAULT_VERSION
    try:
        releases.check_supported(version)
    except LlmopsError as err:
        return None, ["model %s: %s" % (name, err)]
    if model.get("served_model_name") is not None and not str(model["served_model_name"]).strip():
        problems.append("model %s: served_model_name is empty; leave it out to serve the model as %r"
                        % (name, name))
    try:
        check_host(model.get("ingress_host"))
    except LlmopsError as err:
        problems.append("model %s: %s" % (name, err))
    weights, found = weights_source(model, options)
    problems.extend(found)

    tp = int(model.get("tensor_parallel_size") or 1)
    pp = int(model.get("pipeline_parallel_size") or 1)
    replicas = int(model.get("replicas") if model.get("replicas") is not None else 1)
    if replicas < 0:
        problems.append("model %s: replicas=%d must be 0 or more" % (name, replicas))

    # --- sizing (vllm_sizing contract); a module failure (registered with failed_when: false) has no
    # `fits`, only `msg` ---
    if sizing.get("failed") or "fits" not in sizing:
        problems.append("model %s: vllm_sizing refused it: %s" % (name, sizing.get("msg")))
    elif not sizing.get("fits", False):
        reasons = sizing.get("reasons") or ["vllm_sizing reported fits=false"]
        recommended = json.dumps(sizing.get("recommendations") or {}, sort_keys=True)
        problems.append("model %s does not fit %s with tensor_parallel_size=%d pipeline_parallel_size=%d: %s; recommendations: %s"
                        % (name, model.get("gpu_product") or "its GPUs", tp, pp, "; ".join(reasons), recommended))
    # --- parallelism (vllm_parallel contract) ---
    if parallel.get("failed") or "valid" not in parallel:
        problems.append("model %s: vllm_parallel refused it: %s" % (name, parallel.get("msg")))
    elif not parallel.get("valid", False):
        reasons = parallel.get("reasons") or ["vllm_parallel reported valid=false"]
        problems.append("model %s: %s; valid tensor_parallel_size values: %s"
                        % (name, "; ".join(reasons), parallel.get("valid_tensor_parallel_sizes")))

    # --- nodes ---
    candidates = placement(model, nodes, options.get("tolerations"), node_selector=options.get("node_selector"))
    products = sorted({n["product"] for n in nodes if n["product"]})
    gpus_per_node = max([n["gpus"] for n in candidates] or [0])
    world = tp * pp
    multi_node = world > gpus_per_node > 0
    if not candidates:
        problems.append("model %s: no schedulable node has gpu_product=%r with tolerated taints; GPU products "
                        "in the cluster: %s" % (name, model.get("gpu_product"), products or "none"))
        pods_per_group, gpus_per_pod = 1, world
    elif multi_node:
        pods_per_group = int(math.ceil(world / float(gpus_per_node)))
        gpus_per_pod = world // pods_per_group
        if gpus_per_pod * pods_per_group != world:
            problems.append("model %s: tensor_parallel_size*pipeline_parallel_size=%d cannot be split evenly over "
                            "nodes of %d GPUs; use a multiple of %d" % (name, world, gpus_per_node, gpus_per_node))
    else:
        pods_per_group, gpus_per_pod = 1, world

    free = free if free is not None else {n["name"]: n["gpus"] for n in nodes}
    slots = sum(max(0, free.get(n["name"], 0)) // gpus_per_pod for n in candidates) if gpus_per_pod else 0
    needed = replicas * pods_per_group
    if candidates and slots < needed:
        problems.append("model %s%s: needs %d pod(s) of %d x %s but the matching nodes (%s) have room for %d "
                        "(GPUs free per node: %s); lower replicas, pick another gpu_product or add nodes"
                        % (name, "" if track == "stable" else " (%s)" % track, needed, gpus_per_pod, GPU_RESOURCE,
                           ", ".join(n["name"] for n in candidates), slots,
                           ", ".join("%s=%d" % (n["name"], free.get(n["name"], 0)) for n in candidates)))
    elif candidates and gpus_per_pod:
        # spread: one pod at a time onto the node with the most free GPUs
        for _slot in range(needed):
            best = max(candidates, key=lambda n: (free.get(n["name"], 0), n["name"]))
            free[best["name"]] = free.get(best["name"], 0) - gpus_per_pod

    # --- settings -> args ---
    settings = dict(model)
    settings["tensor_parallel_size"] = tp
    settings["pipeline_parallel_size"] = pp
    settings.setdefault("served_model_name", name)
    settings["model"] = weights["model"]
    if settings.get("max_model_len") in (None, -1):
        # unset or -1 (auto, as vllm_sizing reads it): the longest length that fits, pinned so the
        # thresholds below and vLLM agree; 0 means nothing fits and the sizing problem says so already
        settings["max_model_len"] = _sizing_value(sizing, "max_model_len") or None
    if multi_node:
        settings.setdefault("distributed_executor_backend", "ray")
    adapters = settings.get("lora_adapters") or []
    if adapters and settings.get("max_loras") is None:
        settings["max_loras"] = len(adapters)
    try:
        serve_args = vargs.render_serve_args(settings, version, port=options.get("container_port", 8000))
    except LlmopsError as err:
        problems.append(_prefixed(name, err))
        serve_args = []

    # --- resources from sizing ---
    memory_limit = shm = None
    try:
        limit = _sizing_value(sizing, "pod_memory_limit")
        shm_rec = _sizing_value(sizing, "shm_size")
        if limit is None or shm_rec is None:
            raise LlmopsError("vllm_sizing returned no recommendations.pod_memory_limit/shm_size")
        memory_limit = gib_quantity(quantity_bytes(limit))
        shm = gib_quantity(quantity_bytes(shm_rec))
    except LlmopsError as err:
        if sizing.get("fits", False):
            problems.append("model %s: %s" % (name, err))

    # --- startup budget: read weights from the volume, then compile / capture graphs ---
    weights_total_gib = float(sizing.get("weights_gib") or 0.0) * world
    load_s = weights_total_gib / float(options.get("load_gib_per_s", 1.0)) + float(options.get("startup_overhead_s", 180))
    period = int(options.get("probe_period_s", 10))
    startup_failures = max(6, int(math.ceil(load_s * 1.5 / period)))

    # --- capacity, autoscaling and alert thresholds ---
    max_num_seqs = int(settings.get("max_num_seqs") or _sizing_value(sizing, "max_num_seqs") or 256)
    kv_tokens = int(sizing.get("kv_cache_tokens") or 0)
    req_tokens = min(int(settings.get("max_model_len") or 2048), int(options.get("typical_request_tokens", 2048)))
    capacity = max(1, min(max_num_seqs, kv_tokens // max(1, req_tokens))) if kv_tokens else max_num_seqs
    waiting_target = max(1, int(math.ceil(capacity * float(options.get("waiting_ratio", 0.1)))))
    metrics = releases.metric_names(version)

    auto = dict(options.get("autoscaling") or {})
    auto.update(model.get("autoscaling") or {})
    kind = auto.get("kind", "none")
    if kind not in ("none", "hpa", "keda"):
        problems.append("model %s: autoscaling.kind=%r must be one of none, hpa, keda (never both)" % (name, kind))
        kind = "none"
    if multi_node and kind != "none":
        problems.append("model %s: autoscaling with a multi-node LeaderWorkerSet is not supported; set "
                        "autoscaling.kind: none" % name)
    min_r = int(auto.get("min_replicas", max(replicas, 1)))
    max_r = int(auto.get("max_replicas", max(min_r, replicas)))
    if kind == "hpa" and min_r < 1:
        problems.append("model %s: HPA needs min_replicas >= 1; scale-to-zero needs autoscaling.kind: keda" % name)
    if kind != "none" and max_r < min_r:
        problems.append("model %s: autoscaling max_replicas=%d < min_replicas=%d" % (name, max_r, min_r))
    warnings = list(weights.pop("warnings"))
    if kind != "none" and candidates and gpus_per_pod and max_r * pods_per_group > slots:
        # not fatal: a cluster autoscaler may add nodes; the extra replicas would stay Pending otherwise
        warnings.append("model %s: autoscaling max_replicas=%d needs %d pod(s) of %d GPUs but the matching nodes "
                        "have room for %d now; the rest would stay Pending unless nodes are added"
                        % (name, max_r, max_r * pods_per_group, gpus_per_pod, slots))
    served = settings["served_model_name"]
    selector = '{model_name="%s"}' % served
    queries = {
        "waiting": "sum(%s%s)" % (metrics["num_requests_waiting"], selector),
        "kv_cache": "avg(%s%s)" % (metrics["kv_cache_usage"], selector),
    }
    autoscaling = {
        "kind": kind,
        "min_replicas": min_r,
        "max_replicas": max_r,
        "waiting_target": int(auto.get("waiting_target", waiting_target)),
        "kv_cache_target": float(auto.get("kv_cache_target", 0.8)),
        "prometheus_address": auto.get("prometheus_address", "http://prometheus-operated.monitoring.svc:9090"),
        "queries": queries,
        "scale_down_stabilization_s": int(auto.get("scale_down_stabilization_s", 300)),
    }
    alert_for, found = alert_durations(options.get("alert_for"), startup_failures * period)
    problems.extend("model %s: %s" % (name, p) for p in found)
    waiting_alert = int(options.get("waiting_alert") or 0)
    if waiting_alert < 0:
        problems.append("model %s: waiting_alert=%d is negative; give the waiting requests per replica that alert, "
                        "or 0 for the sized capacity (%s)" % (name, waiting_alert, capacity))
    alerts = {
        "kv_cache_usage": float(options.get("kv_cache_alert", 0.9)),
        "waiting": waiting_alert or capacity,
        "error_ratio": float(options.get("error_ratio_alert", 0.05)),
        "ttft_p99_s": float(options.get("ttft_alert_s", max(4.0, round(req_tokens / 1000.0, 1)))),
        "for": alert_for,
    }

    image = options.get("image") or releases.image_for(version)
    config = {"args": serve_args, "image": image, "vllm_version": version}
    checksum = hashlib.sha256(json.dumps(config, sort_keys=True).encode("utf-8")).hexdigest()[:16]
    plan = {
        "name": name,
        "model": settings.get("model"),
        "served_model_name": served,
        "image": image,
        "vllm_version": version,
        "args": serve_args,
        "args_checksum": checksum,
        "tensor_parallel_size": tp,
        "pipeline_parallel_size": pp,
        "gpus_per_pod": gpus_per_pod,
        "multi_node": multi_node,
        "pods_per_group": pods_per_group,
        "gpus_per_node": gpus_per_node,
        "replicas": replicas,
        "gpu_product": model.get("gpu_product"),
        "nodes": [n["name"] for n in candidates],
        "gpu_slots": slots,
        "memory_limit": memory_limit,
        "shm_size": shm,
        "startup_failure_threshold": startup_failures,
        "startup_budget_s": startup_failures * period,
        "probe_period_s": period,
        "prestop_sleep_s": int(options.get("prestop_sleep_s", 15)),
        "termination_grace_s": int(options.get("termination_grace_s", 120)),
        "capacity": capacity,
        "metrics": metrics,
        "autoscaling": autoscaling,
        "alerts": alerts,
        "lora_adapters": adapters,
        "warnings": warnings,
        "ingress_host": model.get("ingress_host"),
        "smoke_test": bool(options.get("smoke_test", True)) if model.get("smoke_test") is None
        else bool(model["smoke_test"]),
        "model_pvc": weights["pvc"],
        "weights": weights,
        "sizing": {k: sizing.get(k) for k in ("weights_gib", "kv_cache_gib", "kv_cache_tokens",
                                              "max_concurrency", "kv_bytes_per_token")},
    }
    return plan, problems


def plan_all(models, sizings, parallels, node_objects, options, pod_objects=None, canary=None):
    """Plan every model (and an optional canary) against one shared view of free GPUs.

    ``sizings``/``parallels`` are lists aligned with ``models`` (the module results).  ``canary`` is
    ``{model, sizing, parallel}`` or None.  Returns ``{plans, canary, problems}``.
    """
    nodes = summarize_nodes(node_objects)
    instance = options.get("instance")
    names = [m.get("name") for m in models]
    problems = ["model name %r is used more than once; names must be unique" % n
                for n in sorted({n for n in names if names.count(n) > 1})]
    # our own stable pods are replaced in place, so their GPUs count as free for the stable plans; on
    # promote the promoted model's canary is removed before the stable rollout, so its GPUs are free too
    exclude = [{"app.kubernetes.io/instance": instance, "llmops.io/track": "stable"}]
    if options.get("promote_model"):
        exclude.append({"app.kubernetes.io/instance": instance, "llmops.io/track": "canary",
                        "llmops.io/model": options["promote_model"]})
    used = gpus_in_use(pod_objects, exclude)
    free = {n["name"]: n["gpus"] - used.get(n["name"], 0) for n in nodes}
    plans = []
    for model, sizing, parallel in zip(models, sizings, parallels):
        plan, found = derive(model, sizing or {}, parallel or {}, nodes, options, free)
        problems.extend(found)
        if plan is not None:
            plans.append(plan)
    canary_plan = None
    if canary:
        cmodel = canary["model"]
        # the canary's own pods (an earlier canary run) are replaced; the stable ones keep running
        used = gpus_in_use(pod_objects, {"app.kubernetes.io/instance": instance, "llmops.io/track": "canary",
                                         "llmops.io/model": cmodel.get("name")})
        cfree = {n["name"]: n["gpus"] - used.get(n["name"], 0) for n in nodes}
        canary_plan, found = derive(cmodel, canary.get("sizing") or {}, canary.get("parallel") or {}, nodes,
                                    options, cfree, track="canary")
        problems.extend(found)
    warnings = [w for p in plans + ([canary_plan] if canary_plan else []) for w in p.get("warnings", [])]
    return {"plans": plans, "canary": canary_plan, "problems": problems, "warnings": warnings}
