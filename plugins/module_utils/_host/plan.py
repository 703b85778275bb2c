# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The whole vllm_host decision in one pure call: models + host facts -> container specs, or the problems.

Input, as the role reads it from the host:

- ``models``: the role's ``vllm_host_models`` (keys: ``HOST_MODEL_KEYS``; an unknown key is refused naming the
  closest known one);
- ``host``: ``gpu_facts`` (the ``ansible_facts.llmops_gpu`` of the gpu_facts module: ``gpus`` with ``index``,
  ``uuid``, ``name``, ``memory_total_mib``, ``mig_mode_current``), ``store`` (per model name: what ``stat`` says
  of ``<store>/<name>/current`` - ``exists``, ``islnk``, ``lnk_target``, ``config`` (config.json present)) and
  ``containers`` (the engine's container list: ``Names``, ``Labels``, ``Ports``);
- ``options``: the role-wide settings (``DEFAULTS`` lists them).

Output: ``containers`` (one ``community.docker.docker_container`` parameter set per model, the same arguments
vllm_deploy renders for ``vllm serve``), ``remove`` (our containers of models no longer listed, or all of ours on
``state=absent``), ``plans`` (per model: GPUs, TP, sizing, endpoints) and ``problems``. Nothing is rendered when
there are problems. Reads nothing and writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import math
import re

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing import gpus as sgpus
from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing import parallel as sparallel
from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing import sizing as ssizing
from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import args as vargs
from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import deploy as vdeploy
from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import model_entry
from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import plan as vplan
from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import releases

MANAGED_BY = "llmops.vllm_serving"
LABEL_MANAGED = "app.kubernetes.io/managed-by"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_MODEL = "llmops.io/model"
LABEL_GPUS = "llmops.io/gpus"
LABEL_SPEC = "llmops.io/spec"
LABEL_VERSION = "llmops.io/vllm-version"
GIB = 1024 ** 3

# The model keys of vllm_deploy that mean the same on a host (one table: model_entry.MODEL_KEYS), plus the
# host's own: which GPUs and which host port.
_SHARED = ("name", "model", "served_model_name", "model_config_path", "model_config", "quantization",
           "kv_cache_dtype", "dtype", "block_size", "max_model_len", "max_num_seqs", "max_num_batched_tokens",
           "gpu_memory_utilization", "enable_prefix_caching", "extra_args", "smoke_test")
HOST_MODEL_KEYS = {k: model_entry.MODEL_KEYS[k] for k in _SHARED}
HOST_MODEL_KEYS.update({
    "gpus": ("list", "GPU indices (nvidia-smi's index) or UUIDs the container gets; tensor_parallel_size = their number"),
    "port": ("int", "host port the container's API is published on"),
})
HOST_MODEL_KEYS["model"] = ("str", "Hugging Face id (weights from the Hub) or a path under vllm_host_model_mount "
                                   "(weights from the store); unset: <mount>/<name>/current")
HOST_MODEL_KEYS["smoke_test"] = ("bool", "smoke-test this model after it started (default: vllm_host_smoke_test)")
# Keys of vllm_deploy that have no meaning here, and what to set instead.
NOT_ON_A_HOST = {
    "tensor_parallel_size": "tensor_parallel_size is the number of GPUs in `gpus` on a host; list the GPUs",
    "pipeline_parallel_size": "one host runs tensor parallelism only: list the GPUs in `gpus`",
    "gpu_product": "the GPU product is read from the host's GPUs (gpu_facts); list the GPUs in `gpus`",
    "replicas": "one container per model on a host; run the role on more hosts for more replicas",
    "model_pvc": "the host's store is vllm_host_model_store (a directory, model_store_root)",
    "hf_cache_pvc": "the Hugging Face cache of a host is the directory vllm_host_hf_cache_dir",
    "autoscaling": "there is no autoscaler on a single host",
    "ingress_host": "publish the model on `port` and put your load balancer in front",
    "lora_adapters": "LoRA adapters are not supported by vllm_host yet",
    "gpus_per_pod": "list the GPUs in `gpus`",
    "image": "the image is role-wide: vllm_host_image (or vllm_host_vllm_version)",
    "args": "vLLM flags go in `extra_args` (checked against the release), or their own keys",
}

#: Role-wide options and their defaults (the role's defaults/main.yml must agree: a unit test compares them).
DEFAULTS = {
    "vllm_version": releases.DEFAULT_VERSION,
    "image": "",
    "instance": "vllm",
    "model_store": "/srv/models",
    "model_mount": "/models",
    "hf_cache_dir": "",
    "hf_token_file": "",
    "offline": True,
    "container_port": 8000,
    "port": 8000,
    "bind_address": "0.0.0.0",
    "gpu_request": "device_requests",
    "gpu_memory_utilization": 0.9,
    "restart_policy": "unless-stopped",
    "log_driver": "json-file",
    "log_options": {"max-size": "100m", "max-file": "5"},
    "health_interval_s": 30,
    "health_timeout_s": 10,
    "health_retries": 3,
    "load_gib_per_s": 1.0,
    "startup_overhead_s": 180,
    "stop_timeout_s": 120,
    "smoke_test": True,
    "env": {},
}
GPU_REQUESTS = ("device_requests", "cdi", "none")
RESTART_POLICIES = ("no", "on-failure", "always", "unless-stopped")
HF_HOME = "/root/.cache/huggingface"
HF_TOKEN_PATH = "/run/secrets/hf-token"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_REGISTRY = re.compile(r"^[^/]*[.:][^/]*/|^localhost/")


def qualified_image(ref):
    """``vllm/vllm-openai:v0.33.0`` -> ``docker.io/vllm/vllm-openai:v0.33.0`` (Docker's own normalisation).

    Docker records the name as given and Podman records the name it resolved; a fully qualified name is the same in
    both, so comparing the running container with the spec does not see a change that is not there."""
    text = str(ref)
    if _REGISTRY.match(text):
        return text
    if "/" not in text.split("@", 1)[0].split(":", 1)[0]:
        text = "library/" + text
    return "docker.io/" + text


def settings_with_defaults(options):
    """``DEFAULTS`` overlaid with ``options``; unknown options refused (they would be silently ignored)."""
    out = dict(DEFAULTS)
    unknown = sorted(set(options or {}) - set(DEFAULTS))
    if unknown:
        raise LlmopsError("unknown vllm_host option(s) %s; known: %s" % (", ".join(unknown), ", ".join(sorted(DEFAULTS))))
    out.update({k: v for k, v in (options or {}).items() if v is not None})
    return out


def check_options(opts):
    """Value checks on the role-wide options; returns problems (each naming the value and what would work)."""
    problems = []
    if opts["gpu_request"] not in GPU_REQUESTS:
        problems.append("vllm_host_gpu_request=%r must be one of %s (device_requests: --gpus 'device=N'; cdi: CDI "
                        "device names nvidia.com/gpu=N; none: no GPU, for tests)" % (opts["gpu_request"], ", ".join(GPU_REQUESTS)))
    if opts["restart_policy"] not in RESTART_POLICIES:
        problems.append("vllm_host_restart_policy=%r must be one of %s" % (opts["restart_policy"], ", ".join(RESTART_POLICIES)))
    for key in ("container_port", "port"):
        value = opts[key]
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
            problems.append("vllm_host_%s=%r must be a TCP port in 1..65535" % (key, value))
    for key in ("model_store", "model_mount"):
        if not str(opts[key]).startswith("/"):
            problems.append("vllm_host_%s=%r must be an absolute path, e.g. %s" % (key, opts[key], DEFAULTS[key]))
    for key in ("hf_cache_dir", "hf_token_file"):
        if opts[key] and not str(opts[key]).startswith("/"):
            problems.append("vllm_host_%s=%r must be an absolute path on the host (or empty)" % (key, opts[key]))
    try:
        vplan.check_name(opts["instance"], "vllm_host_instance")
    except LlmopsError as err:
        problems.append(str(err))
    try:
        releases.check_supported(opts["vllm_version"])
    except LlmopsError as err:
        problems.append("vllm_host_vllm_version: %s" % err)
    if not isinstance(opts["env"], dict) or any(not _ENV_NAME.match(str(k)) for k in opts["env"]):
        problems.append("vllm_host_env=%r must map environment variable names ([A-Za-z_][A-Za-z0-9_]*) to values"
                        % (opts["env"],))
    if not isinstance(opts["log_options"], dict):
        problems.append("vllm_host_log_options=%r must be a mapping, e.g. {max-size: 100m, max-file: '5'}"
                        % (opts["log_options"],))
    for key in ("health_interval_s", "health_timeout_s", "health_retries", "startup_overhead_s", "stop_timeout_s"):
        value = opts[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problems.append("vllm_host_%s=%r must be a positive integer" % (key, value))
    return problems


# ---------------------------------------------------------------- host facts
def host_gpus(gpu_facts):
    """gpu_facts -> [{index, uuid, name, memory_mib, mig}] (an empty list when the host has none)."""
    out = []
    for gpu in (gpu_facts or {}).get("gpus") or []:
        out.append({"index": gpu.get("index"), "uuid": gpu.get("uuid"), "name": gpu.get("name"),
                    "memory_mib": gpu.get("memory_total_mib"), "mig": gpu.get("mig_mode_current") is True})
    return out


def _gpu_list_text(gpus):
    return ", ".join("%s (%s, %s MiB)" % (g["index"], g["name"], g["memory_mib"]) for g in gpus) or "none"


def resolve_gpus(name, wanted, gpus):
    """A model's ``gpus`` -> (the host GPUs, problems): indices or UUIDs that the host has, each once."""
    problems = []
    if not wanted:
        return [], ["model %s: `gpus` is required: the GPU indices (or UUIDs) the container gets, e.g. [0]; this "
                    "host has %s" % (name, _gpu_list_text(gpus))]
    picked = []
    for item in wanted:
        if isinstance(item, bool):
            found = None
        else:
            text = str(item).strip()
            found = next((g for g in gpus if str(g["index"]) == text or (g["uuid"] and g["uuid"] == text)), None)
        if found is None:
            problems.append("model %s: GPU %r is not on this host; its GPUs (nvidia-smi index): %s"
                            % (name, item, _gpu_list_text(gpus)))
        elif found in picked:
            problems.append("model %s: GPU %s is listed twice in `gpus`" % (name, found["index"]))
        else:
            picked.append(found)
    return picked, problems


def _catalog(gpu):
    try:
        return sgpus.catalog_name(re.sub(r"\s+", "-", str(gpu["name"] or "").strip()))
    except LlmopsError:
        return None


def foreign_ports(containers, instance):
    """Host ports published by containers that are not this instance's: {port: container name}."""
    used = {}
    for c in containers or []:
        labels = c.get("Labels") or {}
        if labels.get(LABEL_MANAGED) == MANAGED_BY and labels.get(LABEL_INSTANCE) == instance:
            continue
        name = ((c.get("Names") or ["?"])[0] or "?").lstrip("/")
        for port in c.get("Ports") or []:
            if port.get("PublicPort"):
                used[int(port["PublicPort"])] = name
    return used


def other_instances_gpus(containers, instance):
    """GPUs held by containers of this collection's other instances (their llmops.io/gpus label): {gpu: container}.

    Containers started by other tools do not say which GPUs they hold without an inspect each; only ours do."""
    held = {}
    for c in containers or []:
        labels = c.get("Labels") or {}
        if labels.get(LABEL_MANAGED) != MANAGED_BY or labels.get(LABEL_INSTANCE) == instance:
            continue
        if str(c.get("State") or "running").lower() not in ("running", "restarting", "created"):
            continue
        name = ((c.get("Names") or ["?"])[0] or "?").lstrip("/")
        for gpu in str(labels.get(LABEL_GPUS) or "").split(","):
            if gpu.strip():
                held[gpu.strip()] = "%s (vllm_host_instance %s)" % (name, labels.get(LABEL_INSTANCE))
    return held


def owned(containers, instance):
    """Names of the containers this instance of the role created (by label), sorted."""
    names = []
    for c in containers or []:
        labels = c.get("Labels") or {}
        if labels.get(LABEL_MANAGED) == MANAGED_BY and labels.get(LABEL_INSTANCE) == instance:
            names.append(((c.get("Names") or [""])[0] or "").lstrip("/"))
    return sorted(n for n in names if n)


# ---------------------------------------------------------------- weights
def weights(model, store, opts):
    """Where a model's weights come from -> (weights, problems).

    - no ``model``: the store, ``<store>/<name>/current`` (model_store's layout: a relative link to
      releases/<release>); the release it points at is mounted read-only at ``<mount>/<name>/current``, so a switch
      of ``current`` (a new release, a rollback) changes the spec and the next run recreates the container;
    - ``model`` an absolute path: it must lie under ``<mount>/<name>/current`` (a file of the staged model);
    - ``model`` a Hugging Face id: the Hub (``vllm_host_hf_cache_dir`` mounted as the cache); refused when
      ``vllm_host_offline`` says the host cannot reach the Hub.
    """
    name = model["name"]
    mount = str(opts["model_mount"]).rstrip("/") or "/"
    root = str(opts["model_store"]).rstrip("/") or "/"
    target = "%s/%s/current" % (mount, name)
    value = model.get("model")
    if value in (None, "") or str(value).startswith("/"):
        path = target if value in (None, "") else str(value)
        if not (path == target or path.startswith(target + "/")):
            return None, ["model %s: model=%s is a path in the container, but only %s (the store's current release of "
                          "%s) is mounted; leave `model` out to serve it, or set `model` to a Hugging Face id"
                          % (name, path, target, name)]
        fact = (store or {}).get(name) or {}
        link = "%s/%s/current" % (root, name)
        if not fact.get("exists"):
            return None, ["model %s: %s does not exist on this host, so the container would have no weights (vLLM: "
                          "'Invalid repository ID or local directory specified'). Stage it first with the model_store "
                          "role (model_store_root=%s, model_store_model=%s), or set `model` to a Hugging Face id"
                          % (name, link, root, name)]
        if not fact.get("config"):
            return None, ["model %s: %s has no config.json; vLLM cannot load it. Re-stage the model with model_store "
                          "(model_store_require_files: [config.json])" % (name, link)]
        source = link
        release = None
        if fact.get("islnk"):
            release = str(fact.get("lnk_target") or "")
            source = release if release.startswith("/") else "%s/%s/%s" % (root, name, release)
            source = re.sub(r"/+", "/", source)
        mounts = [{"type": "bind", "source": source, "target": target, "read_only": True}]
        return {"source": "store", "model": path, "mounts": mounts, "release": release, "offline": True,
                "config_path": link}, []
    if opts["offline"]:
        return None, ["model %s: model=%s is a Hugging Face id, but vllm_host_offline is true (the host cannot reach "
                      "the Hub), so the container could not download it. Stage it with model_store and leave `model` "
                      "out (weights from %s/%s/current)" % (name, value, root, name)]
    mounts = []
    if opts["hf_cache_dir"]:
        mounts.append({"type": "bind", "source": opts["hf_cache_dir"], "target": HF_HOME, "read_only": False})
    if opts["hf_token_file"]:
        mounts.append({"type": "bind", "source": opts["hf_token_file"], "target": HF_TOKEN_PATH, "read_only": True})
    return {"source": "hub", "model": str(value), "mounts": mounts, "release": None, "offline": False,
            "config_path": None}, []


# ---------------------------------------------------------------- one model
def _sizing_problem(name, gpus, tp, sizing):
    label = "%d x %s" % (len(gpus), gpus[0]["name"]) if gpus else "its GPUs"
    if sizing.get("failed") or "fits" not in sizing:
        return "model %s: vllm_sizing refused it: %s" % (name, sizing.get("msg"))
    if not sizing.get("fits"):
        reasons = sizing.get("reasons") or ["vllm_sizing reported fits=false"]
        recommended = json.dumps(sizing.get("recommendations") or {}, sort_keys=True)
        return ("model %s does not fit %s (GPUs %s) with tensor_parallel_size=%d: %s; recommendations: %s; give it "
                "more GPUs in `gpus`, a shorter max_model_len or a quantized checkpoint"
                % (name, label, ", ".join(str(g["index"]) for g in gpus), tp, "; ".join(reasons), recommended))
    return None


def _parallel(model, tp, host_count):
    try:
        arch = ssizing.load_arch(model.get("model_config_path"), model.get("model_config"))[0]
        arch = ssizing.apply_quantization(arch, model.get("quantization"))
        return sparallel.validate(arch, tensor_parallel_size=tp, pipeline_parallel_size=1,
                                  gpus_per_node=max(host_count, tp), gpu_request=tp, nodes=1, mig=False,
                                  max_num_seqs=model.get("max_num_seqs"),
                                  max_num_batched_tokens=model.get("max_num_batched_tokens"))
    except (LlmopsError, ValueError, TypeError, KeyError, OSError) as err:
        return {"failed": True, "msg": str(err)}


def _gib_docker(quantity):
    """'2Gi' -> '2G' (Docker's units are binary)."""
    return "%dG" % max(1, int(math.ceil(vplan.quantity_bytes(quantity) / float(GIB))))


def _device_requests(mode, gpus):
    ids = [str(g["index"]) for g in gpus]
    if mode == "device_requests":
        return [{"driver": "nvidia", "device_ids": ids, "capabilities": [["gpu"]]}]
    if mode == "cdi":
        return [{"driver": "cdi", "device_ids": ["nvidia.com/gpu=%s" % i for i in ids]}]
    return []


def _healthcheck(opts, start_period_s):
    url = "http://127.0.0.1:%d/health" % opts["container_port"]
    # the official image has curl; a minimal one may have only (busybox) wget
    test = "curl -fsS -o /dev/null %s || wget -q -O /dev/null %s" % (url, url)
    return {"test": ["CMD-SHELL", test], "interval": "%ds" % opts["health_interval_s"],
            "timeout": "%ds" % opts["health_timeout_s"], "retries": opts["health_retries"],
            "start_period": "%ds" % start_period_s}


def plan_model(model, gpus, host_count, store, opts, version):
    """One checked model entry -> (plan with its container spec, problems)."""
    name = model["name"]
    problems = []
    if model.get("served_model_name") is not None and not str(model["served_model_name"]).strip():
        problems.append("model %s: served_model_name is empty; leave it out to serve the model as %r" % (name, name))
    mig = [str(g["index"]) for g in gpus if g["mig"]]
    if mig:
        problems.append("model %s: MIG is enabled on GPU(s) %s; a container gets whole GPUs here. Disable MIG "
                        "(nvidia-smi -i N -mig 0) or pick GPUs without it" % (name, ", ".join(mig)))
    products = sorted({g["name"] for g in gpus})
    if len(products) > 1:
        problems.append("model %s: `gpus` mixes GPU products %s; tensor parallelism needs one product"
                        % (name, ", ".join(products)))
    found, missing = weights(model, store, opts)
    problems.extend(missing)
    tp = max(1, len(gpus))
    entry = dict(model)
    entry["tensor_parallel_size"] = tp
    entry.pop("gpus", None)
    entry.pop("port", None)
    if entry.get("gpu_memory_utilization") is None:
        entry["gpu_memory_utilization"] = opts["gpu_memory_utilization"]
    if entry.get("model_config_path") is None and entry.get("model_config") is None:
        if found and found["config_path"]:
            entry["model_config_path"] = found["config_path"]  # the staged config.json (the module runs on the host)
        else:
            problems.append("model %s: `model_config_path` (directory with config.json on the host) or "
                            "`model_config` (its content) is required to size a model from the Hub" % name)
    sizing, parallel = {}, {}
    catalog = _catalog(gpus[0]) if gpus else None
    if gpus and catalog is None:
        problems.append("model %s: GPU %s (%s) is not in the sizing catalog; known: %s"
                        % (name, gpus[0]["index"], gpus[0]["name"], ", ".join(sorted(sgpus.CATALOG))))
    if gpus and catalog and (entry.get("model_config_path") is not None or entry.get("model_config") is not None):
        sizing, entry = vdeploy.size_and_fit(dict(entry, gpu_product=catalog), version)
        entry.pop("gpu_product", None)
        text = _sizing_problem(name, gpus, tp, sizing)
        if text:
            problems.append(text)
        parallel = _parallel(entry, tp, host_count) if not sizing.get("failed") else {"valid": True}
        if parallel.get("failed"):
            problems.append("model %s: vllm_parallel refused it: %s" % (name, parallel.get("msg")))
        elif not parallel.get("valid"):
            problems.append("model %s: %s; valid tensor_parallel_size values (number of `gpus`): %s"
                            % (name, "; ".join(parallel.get("reasons") or []), parallel.get("valid_tensor_parallel_sizes")))
    if problems:
        return None, problems

    settings = {k: v for k, v in entry.items() if k not in ("model_config_path", "model_config", "smoke_test")}
    settings.setdefault("served_model_name", name)
    settings["model"] = found["model"]
    if settings.get("max_model_len") in (None, -1):
        settings["max_model_len"] = (sizing.get("recommendations") or {}).get("max_model_len") or None
    try:
        serve_args = vargs.render_serve_args(settings, version, port=opts["container_port"])
    except LlmopsError as err:
        text = str(err)
        return None, [text if text.startswith("model %s:" % name) else "model %s: %s" % (name, text)]

    recs = sizing.get("recommendations") or {}
    shm = _gib_docker(recs.get("shm_size") or "1Gi")
    weights_total_gib = float(sizing.get("weights_gib") or 0.0) * tp
    start_period = int(math.ceil((weights_total_gib / float(opts["load_gib_per_s"]) + opts["startup_overhead_s"]) * 1.5))
    image = qualified_image(opts["image"] or releases.image_for(version))
    env = {"VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"}
    if found["offline"]:
        env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    if found["source"] == "hub" and opts["hf_cache_dir"]:
        env["HF_HOME"] = HF_HOME
    if found["source"] == "hub" and opts["hf_token_file"]:
        env["HF_TOKEN_PATH"] = HF_TOKEN_PATH  # the token stays in a file on the host, never in the spec
    env.update({str(k): str(v) for k, v in (opts["env"] or {}).items()})
    gpu_ids = ",".join(str(g["index"]) for g in gpus)
    container_name = "%s-%s" % (opts["instance"], name)
    spec = {
        "name": container_name,
        "image": image,
        "entrypoint": ["vllm", "serve"],
        "command": [str(a) for a in serve_args],
        "env": env,
        "published_ports": ["%s:%d:%d" % (opts["bind_address"], model["port"], opts["container_port"])],
        "mounts": found["mounts"],
        "shm_size": shm,
        "device_requests": _device_requests(opts["gpu_request"], gpus),
        "restart_policy": opts["restart_policy"],
        # vLLM drains in-flight requests on SIGTERM; Docker's default is SIGKILL after 10 s
        "stop_timeout": opts["stop_timeout_s"],
        "healthcheck": _healthcheck(opts, start_period),
        "log_driver": opts["log_driver"],
        "log_options": {str(k): str(v) for k, v in (opts["log_options"] or {}).items()},
        "labels": {
            LABEL_MANAGED: MANAGED_BY,
            LABEL_INSTANCE: opts["instance"],
            LABEL_MODEL: name,
            LABEL_GPUS: gpu_ids,
            LABEL_VERSION: str(version),
        },
    }
    if found["release"]:
        spec["labels"]["llmops.io/model-release"] = found["release"].rsplit("/", 1)[-1]
    # a checksum of everything else: any change (args, mounts, GPUs, release) changes a label, so the engine's
    # comparison recreates the container even where it cannot compare an option itself
    spec["labels"][LABEL_SPEC] = hashlib.sha256(json.dumps(spec, sort_keys=True).encode("utf-8")).hexdigest()[:16]
    health_host = "127.0.0.1" if opts["bind_address"] in ("0.0.0.0", "::", "") else opts["bind_address"]
    plan = {
        "name": name,
        "container": container_name,
        "served_model_name": settings["served_model_name"],
        "model": found["model"],
        "weights": {k: found[k] for k in ("source", "release", "offline")},
        "image": image,
        "vllm_version": str(version),
        "gpus": [str(g["index"]) for g in gpus],
        "gpu_product": gpus[0]["name"],
        "tensor_parallel_size": tp,
        "port": model["port"],
        "url": "http://%s:%d" % (health_host, model["port"]),
        "args": serve_args,
        "start_period_s": start_period,
        "smoke_test": bool(opts["smoke_test"]) if model.get("smoke_test") is None else bool(model["smoke_test"]),
        "sizing": {k: sizing.get(k) for k in ("weights_gib", "kv_cache_gib", "kv_cache_tokens", "max_concurrency",
                                              "max_model_len")},
    }
    return {"plan": plan, "spec": spec}, []


def check_models(models):
    """Schema check of every entry -> (normalised entries, problems)."""
    if not isinstance(models, (list, tuple)) or not models:
        return [], ["vllm_host_models must be a non-empty list of model entries, e.g. [{name: llama-8b, gpus: [0], "
                    "port: 8000}] (weights from <vllm_host_model_store>/llama-8b/current)"]
    out, problems = [], []
    for index, entry in enumerate(models):
        where = "model %s" % entry["name"] if isinstance(entry, dict) and isinstance(entry.get("name"), str) and \
            entry.get("name") else "vllm_host_models[%d]" % index
        if isinstance(entry, dict):
            for key in [k for k in entry if k in NOT_ON_A_HOST]:
                problems.append("%s: `%s` is not a vllm_host key: %s" % (where, key, NOT_ON_A_HOST[key]))
            entry = {k: v for k, v in entry.items() if k not in NOT_ON_A_HOST}
        checked, found = model_entry.check_mapping(entry, HOST_MODEL_KEYS, where)
        problems += found
        if checked is None:
            continue
        if not checked.get("name"):
            problems.append("%s: `name` is required (a DNS-1035 label such as llama-8b)" % where)
            continue
        try:
            vplan.check_name(checked["name"])
        except LlmopsError as err:
            problems.append(str(err))
            continue
        out.append(checked)
    names = [m["name"] for m in out]
    problems += ["model name %r is used more than once; names must be unique" % n
                 for n in sorted({n for n in names if names.count(n) > 1})]
    return out, problems


def plan_host(models, host=None, options=None, state="present"):
    """One call for the role. Returns {containers, remove, plans, problems, warnings}; nothing to apply on problems."""
    host = dict(host or {})
    empty = {"containers": [], "remove": [], "plans": [], "warnings": []}
    try:
        opts = settings_with_defaults(options)
    except LlmopsError as err:
        return dict(empty, problems=[str(err)])
    problems = check_options(opts)
    if problems:
        return dict(empty, problems=problems)
    mine = owned(host.get("containers"), opts["instance"])
    if state == "absent":
        return dict(empty, remove=mine, problems=[])
    if state != "present":
        return dict(empty, problems=["vllm_host_state=%r must be present or absent" % (state,)])
    checked, problems = check_models(models)
    gpus = host_gpus(host.get("gpu_facts"))
    if not gpus:
        problems.append("this host reports no NVIDIA GPU (gpu_facts found none: %s); vllm_host needs the driver "
                        "loaded and nvidia-smi working - run the gpu_node role or its preflight first"
                        % (((host.get("gpu_facts") or {}).get("nvidia_smi") or {}).get("error") or "nvidia-smi absent"))
    taken_gpu, taken_port = {}, {}
    busy = foreign_ports(host.get("containers"), opts["instance"])
    held = other_instances_gpus(host.get("containers"), opts["instance"])
    resolved = []
    for model in checked:
        name = model["name"]
        model["port"] = model.get("port") if model.get("port") is not None else opts["port"]
        port = model["port"]
        if not 1 <= port <= 65535:
            problems.append("model %s: port=%d must be a TCP port in 1..65535" % (name, port))
        elif port in taken_port:
            problems.append("model %s: port %d is already claimed by model %s; give each model its own `port`, e.g. %d"
                            % (name, port, taken_port[port], max(list(taken_port) + [port]) + 1))
        elif port in busy:
            problems.append("model %s: port %d is published by container %s, which is not ours; pick another `port` "
                            "or stop that container" % (name, port, busy[port]))
        else:
            taken_port[port] = name
        picked, found = resolve_gpus(name, model.get("gpus"), gpus) if gpus else ([], [])
        problems += found
        for gpu in picked:
            key = str(gpu["index"])
            if key in held:
                problems.append("model %s: GPU %s is held by container %s; give this model another GPU, or remove "
                                "that container (state: absent with its instance)" % (name, key, held[key]))
            elif key in taken_gpu:
                problems.append("model %s: GPU %s is already given to model %s; two vLLM servers on one GPU would each "
                                "claim gpu_memory_utilization of it and the second fails at start (\"Free memory on "
                                "device ... is less than desired GPU memory utilization\"); give each model its own GPUs"
                                % (name, key, taken_gpu[key]))
            else:
                taken_gpu[key] = name
        resolved.append((model, picked))
    version = opts["vllm_version"]
    planned = []
    for model, picked in resolved:
        if not picked:
            continue
        result, found = plan_model(model, picked, len(gpus), host.get("store"), opts, version)
        problems += found
        if result:
            planned.append(result)
    if problems:
        return dict(empty, problems=problems)
    warnings = []
    if opts["gpu_request"] == "none":
        warnings.append("vllm_host_gpu_request is none: the containers get no GPU (device requests not sent); vLLM "
                        "itself would fail to start - only for hosts without GPUs, such as tests")
    names = {p["spec"]["name"] for p in planned}
    return {"containers": [p["spec"] for p in planned], "plans": [p["plan"] for p in planned],
            "remove": [n for n in mine if n not in names], "warnings": warnings, "problems": []}
