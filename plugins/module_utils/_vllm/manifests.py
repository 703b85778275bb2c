# -*- coding: utf-8 -*-
# Copyright: (c) 2026, llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every Kubernetes object of a model, rendered from its plan (plan.py) in Python.

One registry of kinds (``KINDS``) is read by everything that needs to know what the role owns: the
render, the apply set's prune list, state=absent, the canary's kinds and the CRD check. Adding a kind is
one ``Kind`` entry plus its render function (and a test in tests/unit/.../test_manifests.py).

``settings`` are the role's variables without the ``vllm_deploy_`` prefix (``DEFAULT_SETTINGS`` holds
their defaults, the same as roles/vllm_deploy/defaults/main.yml; a test keeps them equal).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import re
import shlex
from collections import namedtuple

MANAGED_BY = "llmops.vllm_serving"

DEFAULT_SETTINGS = {
    "namespace": "llm-serving",
    "release": "vllm",
    "create_namespace": True,
    "image_pull_policy": "IfNotPresent",
    "image_pull_secrets": [],
    "container_port": 8000,
    "model_mount": "/models",
    "hf_token_secret": {"name": "", "key": "token"},
    "api_key_secret": {"name": "", "key": "api-key"},
    "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    "node_selector": {},
    "priority_class": "",
    "max_surge": 1,
    "spread_policy": "DoNotSchedule",
    "cpu_per_gpu": 2,
    "resource_requests": {},
    "run_as_user": None,
    "read_only_root_filesystem": True,
    "cpu_limit": "request",
    "service_account": "",
    "service_type": "ClusterIP",
    "ingress_enabled": True,
    "ingress_class": "nginx",
    "ingress_timeout_s": 3600,
    "ingress_tls_secret": "",
    "ingress_annotations": {},
    "hpa_metric_prefix": "vllm_",
    "monitor_kind": "podmonitor",
    "monitor_labels": {},
    "monitor_interval": "15s",
    "prometheus_rules": True,
    "pdb_enabled": True,
    "network_policy": True,
    "network_policy_namespaces": ["ingress-nginx", "monitoring"],
    "canary": {},
    # kubernetes | openshift | auto (deploy.plan_deployment resolves auto from the cluster: OpenShift serves
    # clusterversions.config.openshift.io); openshift renders a Route instead of an Ingress
    "platform": "auto",
}

#: the CRD only OpenShift serves (its cluster-version operator's), read to tell the platform apart; a cluster that
#: merely installed the Route CRD (an ingress controller that speaks Routes) is not OpenShift
OPENSHIFT_CRD = "clusterversions.config.openshift.io"
PLATFORMS = ("auto", "kubernetes", "openshift")

#: HOME of the official vllm/vllm-openai image (it runs as root); an emptyDir, writable by any uid
HOME = "/root"
HF_TOKEN_DIR = "/var/run/secrets/llmops/hf-token"

# name: registry key; crd: the CRD it needs (None for built-in kinds); canary: the canary track has it;
# render(plan, ctx) -> object or None
Kind = namedtuple("Kind", "name api_version kind crd canary render")


class _Ctx(object):
    """What every render function of one model needs, computed once."""

    def __init__(self, plan, settings, track, live_replicas):
        self.plan = plan
        self.s = settings
        self.track = track
        self.canary = track == "canary"
        self.obj = plan["name"] + ("-canary" if self.canary else "")
        self.ns = settings["namespace"]
        self.selector = {"app.kubernetes.io/instance": settings["release"], "llmops.io/model": plan["name"],
                         "llmops.io/track": track}
        self.model_selector = {"app.kubernetes.io/instance": settings["release"], "llmops.io/model": plan["name"]}
        self.labels = dict(self.selector, **{
            "app.kubernetes.io/name": "vllm", "app.kubernetes.io/component": "inference-server",
            "app.kubernetes.io/managed-by": MANAGED_BY, "app.kubernetes.io/version": plan["vllm_version"]})
        self.autoscaled = plan["autoscaling"]["kind"] != "none" and not self.canary
        self.live_replicas = live_replicas or {}

    def meta(self, labels=None, annotations=None):
        out = {"name": self.obj, "namespace": self.ns, "labels": dict(labels or self.labels)}
        if annotations:
            out["annotations"] = annotations
        return out


def _surge(settings):
    surge = int(settings["max_surge"])
    return {"maxSurge": surge, "maxUnavailable": 0 if surge > 0 else 1}


def _pod_spec(ctx, role):
    plan, s = ctx.plan, ctx.s
    leader = role in ("single", "leader")
    weights = plan.get("weights") or {}
    env = [{"name": "VLLM_NO_USAGE_STATS", "value": "1"}, {"name": "DO_NOT_TRACK", "value": "1"}]
    if weights.get("offline"):
        env.append({"name": "HF_HUB_OFFLINE", "value": "1"})
    hf, api = s.get("hf_token_secret") or {}, s.get("api_key_secret") or {}
    if api.get("name") and leader:
        env.append({"name": "VLLM_API_KEY",
                    "valueFrom": {"secretKeyRef": {"name": api["name"], "key": api.get("key") or "api-key"}}})
    if hf.get("name"):
        # as a file, not an environment variable (a Secret in the environment ends up in crash dumps and
        # `/proc/<pid>/environ`); huggingface_hub reads HF_TOKEN_PATH
        env.append({"name": "HF_TOKEN_PATH", "value": HF_TOKEN_DIR + "/token"})
    # HOME set, not taken from the image: the runtime takes it from the image's /etc/passwd and falls back to "/"
    # (read-only here) for a uid it does not list
    env.append({"name": "HOME", "value": HOME})
    if s.get("run_as_user") is not None or s.get("platform") == "openshift":
        # an image user that /etc/passwd does not know (OpenShift's restricted-v2 SCC picks an arbitrary uid):
        # torch's getpass.getuser() raises KeyError without USER
        env.append({"name": "USER", "value": "vllm"})
    # Everything vLLM writes is an emptyDir, so the root filesystem can be read-only: HOME (the Hugging Face,
    # vLLM, torch-compile, Triton, FlashInfer caches and vLLM's config under ~/.cache, ~/.triton, ~/.config) and
    # /tmp (torch inductor, Ray's session directory, vLLM's IPC sockets); /dev/shm for NCCL.
    mounts = [{"name": "dshm", "mountPath": "/dev/shm"}, {"name": "home", "mountPath": HOME},
              {"name": "tmp", "mountPath": "/tmp"}]
    volumes = [{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": plan["shm_size"]}},
               {"name": "home", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}]
    if hf.get("name"):
        mounts.append({"name": "hf-token", "mountPath": HF_TOKEN_DIR, "readOnly": True})
        volumes.append({"name": "hf-token", "secret": {"secretName": hf["name"], "defaultMode": 0o440,
                                                       "items": [{"key": hf.get("key") or "token", "path": "token"}]}})
    if weights.get("hf_cache_pvc"):
        mounts.append({"name": "hf-cache", "mountPath": "/root/.cache/huggingface"})
        volumes.append({"name": "hf-cache", "persistentVolumeClaim": {"claimName": weights["hf_cache_pvc"]}})
    if weights.get("pvc"):
        mounts.append({"name": "model", "mountPath": s["model_mount"], "readOnly": True})
        volumes.append({"name": "model", "persistentVolumeClaim": {"claimName": weights["pvc"], "readOnly": True}})
    pod_security = {"seccompProfile": {"type": "RuntimeDefault"}}
    if s.get("run_as_user") is not None:
        uid = int(s["run_as_user"])
        pod_security.update({"runAsNonRoot": True, "runAsUser": uid, "fsGroup": uid})

    def probe(**kw):
        return dict({"httpGet": {"path": "/health", "port": "http"}, "timeoutSeconds": 5}, **kw)
    requests = s.get("resource_requests") or {}
    cpu = max(2, plan["gpus_per_pod"] * int(s["cpu_per_gpu"]))
    container = {
        "name": "vllm",
        "image": plan["image"],
        "imagePullPolicy": s["image_pull_policy"],
    }
    if role == "single":
        container.update({"command": ["vllm", "serve"], "args": [str(a) for a in plan["args"]]})
    elif role == "leader":
        container.update({"command": ["/bin/sh", "-c"], "args": [
            "ray start --head --port=6379 --block & for i in $(seq 1 120); do ray status >/dev/null 2>&1 && break; "
            "sleep 5; done; exec vllm serve " + " ".join(shlex.quote(a) for a in plan["args"])]})
    else:
        container.update({"command": ["/bin/sh", "-c"], "args": ["exec ray start --address=$(LWS_LEADER_ADDRESS):6379 --block"]})
    if leader:
        container["ports"] = [{"name": "http", "containerPort": int(s["container_port"]), "protocol": "TCP"}]
    container["env"] = env
    container["resources"] = {
        "requests": {"cpu": str(requests.get("cpu") or cpu), "memory": requests.get("memory") or plan["memory_limit"],
                     "nvidia.com/gpu": str(plan["gpus_per_pod"])},
        "limits": {"memory": plan["memory_limit"], "nvidia.com/gpu": str(plan["gpus_per_pod"])},
    }
    cpu_limit = str(s.get("cpu_limit") or "none")
    if cpu_limit != "none":
        # "request": limits = requests for CPU and memory -> QoS Guaranteed: last to be evicted under node pressure,
        # and with the kubelet's static CPU manager exclusive cores that the topology manager aligns with the GPUs'
        # NUMA node (a throttled tokenizer thread would stretch time to first token)
        container["resources"]["limits"]["cpu"] = container["resources"]["requests"]["cpu"] if cpu_limit == "request" \
            else cpu_limit
    if leader:
        container["startupProbe"] = probe(periodSeconds=plan["probe_period_s"],
                                          failureThreshold=plan["startup_failure_threshold"])
        container["readinessProbe"] = probe(periodSeconds=5, failureThreshold=3)
        container["livenessProbe"] = probe(periodSeconds=10, failureThreshold=3, timeoutSeconds=10)
        container["lifecycle"] = {"preStop": {"exec": {"command": ["/bin/sh", "-c", "sleep %s" % plan["prestop_sleep_s"]]}}}
    container["securityContext"] = {"allowPrivilegeEscalation": False, "privileged": False,
                                    "readOnlyRootFilesystem": bool(s.get("read_only_root_filesystem", True)),
                                    "capabilities": {"drop": ["ALL"]}}
    container["volumeMounts"] = mounts
    spec = {"terminationGracePeriodSeconds": plan["termination_grace_s"], "automountServiceAccountToken": False}
    if s.get("service_account"):
        spec["serviceAccountName"] = s["service_account"]
    if s.get("priority_class"):
        spec["priorityClassName"] = s["priority_class"]
    if s.get("image_pull_secrets"):
        spec["imagePullSecrets"] = [{"name": n} for n in s["image_pull_secrets"]]
    spec["securityContext"] = pod_security
    spec["nodeSelector"] = dict({"nvidia.com/gpu.product": plan["gpu_product"]}, **(s.get("node_selector") or {}))
    spec["tolerations"] = copy.deepcopy(list(s.get("tolerations") or []))
    if role == "single":
        spec["affinity"] = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                                "labelSelector": {"matchLabels": dict(ctx.selector)}}}]}}
        spec["topologySpreadConstraints"] = [{
            "maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": s["spread_policy"],
            "labelSelector": {"matchLabels": dict(ctx.selector)}, "matchLabelKeys": ["pod-template-hash"]}]
    spec["containers"] = [container]
    spec["volumes"] = volumes
    return spec


def render_configmap(plan, ctx):
    keys = ("tensor_parallel_size", "pipeline_parallel_size", "gpus_per_pod", "pods_per_group", "memory_limit",
            "shm_size", "capacity", "startup_budget_s", "sizing", "autoscaling", "alerts")
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": dict(ctx.meta(), name=ctx.obj + "-args"),
            "data": {"vllm-version": str(plan["vllm_version"]), "image": str(plan["image"]),
                     "args.json": json.dumps(list(plan["args"])),
                     "plan.json": json.dumps({k: plan.get(k) for k in keys}, sort_keys=True)}}


def _checksum(plan):
    return {"llmops.io/args-checksum": str(plan["args_checksum"])}


#: The checks of a manifest scanner (checkov's kubernetes framework, run on every rendered kind in the tests)
#: that the workloads deliberately do not meet, each with its reason: one place. Each applies only while its
#: condition holds (a site that pins a digest or sets a uid >= 10000 passes those checks), and is written on the
#: workload as checkov's own skip annotation, so a site's scan of the live objects reads the same reasons.
SCANNER_OPT_OUTS = (
    ("CKV_K8S_15", lambda plan, s: s["image_pull_policy"] != "Always",
     "imagePullPolicy {policy}: images of many GB from a site mirror, also air-gapped; a pull on every start "
     "fails restarts when the mirror is down. Pin a digest to make the image immutable"),
    ("CKV_K8S_43", lambda plan, s: "@" not in plan["image"],
     "image by release tag ({image}); pin a digest with vllm_deploy_image: <repo>:<tag>@sha256:<digest>"),
    ("CKV_K8S_23", lambda plan, s: s.get("run_as_user") is None,
     "the image's own user: vllm/vllm-openai runs as root; set vllm_deploy_run_as_user (10000 or above) where the "
     "image allows another uid (HOME, /tmp and the caches are emptyDirs)"),
    ("CKV_K8S_40", lambda plan, s: s.get("run_as_user") is None or int(s["run_as_user"]) < 10000,
     "uid {uid}: the image's own (root) or the site's vllm_deploy_run_as_user; 10000 or above passes"),
    ("CKV_K8S_22", lambda plan, s: not s.get("read_only_root_filesystem", True),
     "writable root filesystem chosen by the site (vllm_deploy_read_only_root_filesystem: false), for an image "
     "that writes outside HOME and /tmp"),
    ("CKV_K8S_11", lambda plan, s: str(s.get("cpu_limit") or "none") == "none",
     "no CPU limit chosen by the site (vllm_deploy_cpu_limit: none): CFS throttling of vLLM's scheduler and "
     "tokenizer threads stretches time to first token"),
    ("CKV_K8S_35", lambda plan, s: bool((s.get("api_key_secret") or {}).get("name")),
     "VLLM_API_KEY from a Secret in the environment: vLLM reads its API key only from --api-key (visible in the "
     "pod spec and ps) or that variable"),
    ("CKV_K8S_8", lambda plan, s: bool(plan["multi_node"]),
     "the workers of a multi-node group have no liveness probe: `ray start --block` is their process and exits when "
     "Ray fails; the LeaderWorkerSet then recreates the whole group (the leader's probes watch vLLM)"),
    ("CKV_K8S_9", lambda plan, s: bool(plan["multi_node"]),
     "the workers of a multi-node group have no readiness probe: they serve no traffic (only the leader is behind "
     "the Service)"),
)


def scanner_opt_outs(plan, s):
    """checkov skip annotations (``checkov.io/skipN: ID=reason``) for the opt-outs that apply to this workload."""
    values = {"policy": s["image_pull_policy"], "image": plan["image"],
              "uid": "root" if s.get("run_as_user") is None else s["run_as_user"]}
    # checkov splits the annotation at "=": a reason holds none
    found = [(check, reason.format(**values).replace("=", " ")) for check, applies, reason in SCANNER_OPT_OUTS
             if applies(plan, s)]
    return {"checkov.io/skip%d" % (i + 1): "%s=%s" % item for i, item in enumerate(found)}


def render_deployment(plan, ctx):
    if plan["multi_node"]:
        return None
    replicas = plan["replicas"]
    if ctx.autoscaled:
        live = int(ctx.live_replicas.get(ctx.obj, plan["replicas"]))
        replicas = min(max(live, plan["autoscaling"]["min_replicas"]), plan["autoscaling"]["max_replicas"])
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": ctx.meta(
            annotations=dict(_checksum(plan), **scanner_opt_outs(plan, ctx.s))), "spec": {
        "replicas": replicas, "revisionHistoryLimit": 5,
        "progressDeadlineSeconds": max(600, plan["startup_budget_s"] + 120),
        "strategy": {"type": "RollingUpdate", "rollingUpdate": _surge(ctx.s)},
        "selector": {"matchLabels": dict(ctx.selector)},
        "template": {"metadata": {"labels": dict(ctx.labels), "annotations": dict(
            _checksum(plan), **{"kubectl.kubernetes.io/default-container": "vllm"})},
            "spec": _pod_spec(ctx, "single")}}}


def render_leaderworkerset(plan, ctx):
    if not plan["multi_node"]:
        return None

    def template(role):
        return {"metadata": {"labels": dict(ctx.labels, **{"llmops.io/role": role}), "annotations": _checksum(plan)},
                "spec": _pod_spec(ctx, role)}
    return {"apiVersion": "leaderworkerset.x-k8s.io/v1", "kind": "LeaderWorkerSet",
            "metadata": ctx.meta(annotations=dict(_checksum(plan), **scanner_opt_outs(plan, ctx.s))), "spec": {
                "replicas": plan["replicas"], "startupPolicy": "LeaderCreated",
                "rolloutStrategy": {"type": "RollingUpdate", "rollingUpdateConfiguration": _surge(ctx.s)},
                "leaderWorkerTemplate": {"size": plan["pods_per_group"], "restartPolicy": "RecreateGroupOnPodRestart",
                                         "leaderTemplate": template("leader"), "workerTemplate": template("worker")}}}


def render_service(plan, ctx):
    selector = dict(ctx.selector, **{"llmops.io/role": "leader"}) if plan["multi_node"] else dict(ctx.selector)
    return {"apiVersion": "v1", "kind": "Service", "metadata": ctx.meta(), "spec": {
        "type": ctx.s["service_type"], "selector": selector,
        "ports": [{"name": "http", "port": int(ctx.s["container_port"]), "targetPort": "http", "protocol": "TCP"}]}}


def render_ingress(plan, ctx):
    s = ctx.s
    if not (s["ingress_enabled"] and plan.get("ingress_host")) or s.get("platform") == "openshift":
        return None
    timeout = str(s["ingress_timeout_s"])
    ann = {"nginx.ingress.kubernetes.io/proxy-read-timeout": timeout,
           "nginx.ingress.kubernetes.io/proxy-send-timeout": timeout,
           "nginx.ingress.kubernetes.io/proxy-buffering": "off",
           "nginx.ingress.kubernetes.io/proxy-request-buffering": "off",
           "nginx.ingress.kubernetes.io/proxy-body-size": "64m"}
    ann.update(s.get("ingress_annotations") or {})
    if ctx.canary:
        ann.update({"nginx.ingress.kubernetes.io/canary": "true",
                    "nginx.ingress.kubernetes.io/canary-weight": str((s.get("canary") or {}).get("weight", 10))})
    spec = {"ingressClassName": s["ingress_class"]}
    if s.get("ingress_tls_secret") and not ctx.canary:
        spec["tls"] = [{"hosts": [plan["ingress_host"]], "secretName": s["ingress_tls_secret"]}]
    spec["rules"] = [{"host": plan["ingress_host"], "http": {"paths": [{
        "path": "/", "pathType": "Prefix",
        "backend": {"service": {"name": ctx.obj, "port": {"name": "http"}}}}]}}]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": ctx.meta(annotations=ann), "spec": spec}


def render_route(plan, ctx):
    """OpenShift's router in front of the Service: TLS terminated at the edge with the router's certificate, HTTP
    redirected to HTTPS, the router's 30 s default timeout raised for long generations."""
    s = ctx.s
    if not (s["ingress_enabled"] and plan.get("ingress_host")) or s.get("platform") != "openshift":
        return None
    ann = {"haproxy.router.openshift.io/timeout": "%ss" % s["ingress_timeout_s"]}
    ann.update(s.get("ingress_annotations") or {})
    return {"apiVersion": "route.openshift.io/v1", "kind": "Route", "metadata": ctx.meta(annotations=ann), "spec": {
        "host": plan["ingress_host"],
        "to": {"kind": "Service", "name": ctx.obj, "weight": 100},
        "port": {"targetPort": "http"},
        "tls": {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"},
        "wildcardPolicy": "None"}}


def render_hpa(plan, ctx):
    auto = plan["autoscaling"]
    if not (ctx.autoscaled and auto["kind"] == "hpa"):
        return None
    prefix, m = ctx.s["hpa_metric_prefix"], plan["metrics"]
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": ctx.meta(), "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": ctx.obj},
        "minReplicas": auto["min_replicas"], "maxReplicas": auto["max_replicas"],
        "metrics": [
            {"type": "Pods", "pods": {"metric": {"name": prefix + m["num_requests_waiting"].split(":")[-1]},
                                      "target": {"type": "AverageValue", "averageValue": str(auto["waiting_target"])}}},
            {"type": "Pods", "pods": {"metric": {"name": prefix + m["kv_cache_usage"].split(":")[-1]},
                                      "target": {"type": "AverageValue",
                                                 "averageValue": "%dm" % int(round(auto["kv_cache_target"] * 1000))}}}],
        "behavior": _hpa_behavior(auto)}}


def _hpa_behavior(auto):
    # one pod at a time each way: a vLLM pod takes minutes to load, and scale-in waits out the stabilization window
    return {"scaleUp": {"stabilizationWindowSeconds": 0, "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]},
            "scaleDown": {"stabilizationWindowSeconds": auto["scale_down_stabilization_s"],
                          "policies": [{"type": "Pods", "value": 1, "periodSeconds": 120}]}}


def _sel(ctx):
    return '{namespace="%s",model_name="%s"}' % (ctx.ns, ctx.plan["served_model_name"])


def render_scaledobject(plan, ctx):
    auto = plan["autoscaling"]
    if not (ctx.autoscaled and auto["kind"] == "keda"):
        return None
    m = plan["metrics"]
    return {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": ctx.meta(), "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": ctx.obj},
        "minReplicaCount": auto["min_replicas"], "maxReplicaCount": auto["max_replicas"],
        "pollingInterval": 15, "cooldownPeriod": auto["scale_down_stabilization_s"],
        # cooldownPeriod only governs the last replica (to zero); N -> N-1 is the HPA KEDA owns, so the same
        # behavior as the HPA path is set on it
        "advanced": {"horizontalPodAutoscalerConfig": {"behavior": _hpa_behavior(auto)}},
        "triggers": [
            {"type": "prometheus", "name": "waiting-requests", "metricType": "AverageValue", "metadata": {
                "serverAddress": auto["prometheus_address"],
                "query": "sum(%s%s)" % (m["num_requests_waiting"], _sel(ctx)),
                "threshold": str(auto["waiting_target"]), "activationThreshold": "0"}},
            {"type": "prometheus", "name": "kv-cache-usage", "metricType": "Value", "metadata": {
                "serverAddress": auto["prometheus_address"],
                "query": "avg(%s%s)" % (m["kv_cache_usage"], _sel(ctx)),
                "threshold": str(auto["kv_cache_target"])}}]}}


def render_pdb(plan, ctx):
    if not ctx.s["pdb_enabled"] or ctx.canary or plan["multi_node"]:
        return None
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": ctx.meta(),
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": dict(ctx.selector)}}}


def _monitor(plan, ctx, kind, endpoints_key):
    if ctx.canary or ctx.s["monitor_kind"] != kind.lower():
        return None
    labels = dict(ctx.labels, **(ctx.s.get("monitor_labels") or {}))
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": kind, "metadata": ctx.meta(labels=labels), "spec": {
        "selector": {"matchLabels": dict(ctx.model_selector)},
        endpoints_key: [{"port": "http", "path": "/metrics", "interval": ctx.s["monitor_interval"]}]}}


def render_podmonitor(plan, ctx):
    return _monitor(plan, ctx, "PodMonitor", "podMetricsEndpoints")


def render_servicemonitor(plan, ctx):
    return _monitor(plan, ctx, "ServiceMonitor", "endpoints")


def render_prometheusrule(plan, ctx):
    if ctx.canary or not ctx.s["prometheus_rules"]:
        return None
    m, a, served, name = plan["metrics"], plan["alerts"], plan["served_model_name"], plan["name"]
    sel = _sel(ctx)
    dur = a["for"]
    # this model's pods and no other's (PromQL regexes are anchored): a Deployment's <name>-<rs hash>-<5 chars>,
    # a LeaderWorkerSet's <name>-<group> and <name>-<group>-<worker>; `<name>-.*` would catch model <name>-b too
    pods = "%s-([0-9]+(-[0-9]+)?|[a-z0-9]{1,10}-[a-z0-9]{5})" % name  # a DNS label: no regex metacharacter
    podsel = '{namespace="%s",pod=~"%s",handler=~"/v1/.*"' % (ctx.ns, pods)
    kpod = '{namespace="%s",pod=~"%s"' % (ctx.ns, pods)

    def rule(alert, expr, duration, severity, summary, description=None):
        ann = {"summary": summary}
        if description:
            ann["description"] = description
        return {"alert": alert, "expr": expr, "for": duration, "labels": {"severity": severity, "model": name},
                "annotations": ann}
    rules = [
        rule("VllmKvCacheNearlyFull", "max(%s%s) > %s" % (m["kv_cache_usage"], sel, a["kv_cache_usage"]), dur["kv_cache"],
             "warning", "KV cache of %s above %d%% for %s" % (served, int(a["kv_cache_usage"] * 100), dur["kv_cache"]),
             "Sizing gave %s KV-cache tokens per replica (about %s concurrent requests); requests are being preempted "
             "or queued. Add replicas or lower max_num_seqs." % ((plan.get("sizing") or {}).get("kv_cache_tokens"),
                                                                 plan["capacity"])),
        rule("VllmRequestsQueueing", "avg(%s%s) > %s" % (m["num_requests_waiting"], sel, a["waiting"]), dur["waiting"],
             "warning", "More than %s requests waiting per replica of %s for %s" % (a["waiting"], served, dur["waiting"])),
        rule("VllmPreempting", "sum(rate(%s%s[5m])) > 0" % (m["num_preemptions_total"], sel), dur["preempting"], "info",
             "vLLM is preempting requests of %s: the KV cache is too small for the load" % served),
        rule("VllmHighErrorRate", 'sum(rate(http_requests_total%s,status=~"5.."}[5m])) / sum(rate(http_requests_total%s}[5m]))'
             ' > %s' % (podsel, podsel, a["error_ratio"]), dur["error_rate"], "critical",
             "More than %s%% of API requests to %s fail" % (a["error_ratio"] * 100, served)),
        rule("VllmSlowFirstToken", "histogram_quantile(0.99, sum by (le) (rate(%s_bucket%s[5m]))) > %s"
             % (m["time_to_first_token_seconds"], sel, a["ttft_p99_s"]), dur["ttft"], "warning",
             "p99 time to first token of %s above %ss" % (served, a["ttft_p99_s"]),
             "One request in a hundred waits longer than %ss for its first token: requests queue (see "
             "VllmRequestsQueueing) or prefills are long. Add replicas, or enable chunked prefill / prefix "
             "caching." % a["ttft_p99_s"]),
        # kube-state-metrics series (kube-prometheus-stack installs it): the vLLM container of this model's pods
        rule("VllmPodRestarting", 'sum by (pod) (increase(kube_pod_container_status_restarts_total%s,container="vllm"}'
             '[15m])) > 0' % kpod, dur["restarts"], "warning",
             "A vLLM pod of %s restarted in the last 15 minutes" % served,
             "Read why with `kubectl -n %s logs --previous <pod> -c vllm`: CUDA out of memory (lower "
             "gpu_memory_utilization or max_model_len), weights not found, or the startup probe budget (%ss) "
             "shorter than the load. docs/troubleshooting.md maps the messages." % (ctx.ns, plan["startup_budget_s"])),
        rule("VllmPodNotReady", 'sum by (pod) (kube_pod_status_ready%s,condition="true"}) == 0' % kpod,
             dur["not_ready"], "critical",
             "A vLLM pod of %s has not been ready for %s" % (served, dur["not_ready"]),
             "Longer than the startup budget (%ss) plus 5 minutes: the model is not serving from this pod. "
             "`kubectl -n %s describe pod` shows the failing probe or the scheduling reason."
             % (plan["startup_budget_s"], ctx.ns)),
    ]
    labels = dict(ctx.labels, **(ctx.s.get("monitor_labels") or {}))
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule", "metadata": ctx.meta(labels=labels),
            "spec": {"groups": [{"name": "vllm-" + name, "rules": rules}]}}


def render_networkpolicy(plan, ctx):
    s = ctx.s
    if not s["network_policy"]:
        return None
    ingress = [{"from": [{"podSelector": {}}]}]
    if s.get("network_policy_namespaces"):
        ingress.append({"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": n}}}
                                 for n in s["network_policy_namespaces"]],
                        "ports": [{"port": "http", "protocol": "TCP"}]})
    if s.get("platform") == "openshift":
        # the router and the (user-workload) monitoring namespaces, by OpenShift's policy-group labels
        ingress.append({"from": [{"namespaceSelector": {"matchLabels": {"network.openshift.io/policy-group": g}}}
                                 for g in ("ingress", "monitoring")],
                        "ports": [{"port": "http", "protocol": "TCP"}]})
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": ctx.meta(), "spec": {
        "podSelector": {"matchLabels": dict(ctx.selector)}, "policyTypes": ["Ingress"], "ingress": ingress}}


# Order = apply order within a model (the ConfigMap before the workload that reads it).
KINDS = (
    Kind("configmap", "v1", "ConfigMap", None, True, render_configmap),
    Kind("deployment", "apps/v1", "Deployment", None, True, render_deployment),
    Kind("leaderworkerset", "leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet", "leaderworkersets.leaderworkerset.x-k8s.io",
         True, render_leaderworkerset),
    Kind("service", "v1", "Service", None, True, render_service),
    Kind("ingress", "networking.k8s.io/v1", "Ingress", None, True, render_ingress),
    Kind("route", "route.openshift.io/v1", "Route", "routes.route.openshift.io", False, render_route),
    Kind("hpa", "autoscaling/v2", "HorizontalPodAutoscaler", None, False, render_hpa),
    Kind("scaledobject", "keda.sh/v1alpha1", "ScaledObject", "scaledobjects.keda.sh", False, render_scaledobject),
    Kind("pdb", "policy/v1", "PodDisruptionBudget", None, False, render_pdb),
    Kind("podmonitor", "monitoring.coreos.com/v1", "PodMonitor", "podmonitors.monitoring.coreos.com", False,
         render_podmonitor),
    Kind("servicemonitor", "monitoring.coreos.com/v1", "ServiceMonitor", "servicemonitors.monitoring.coreos.com", False,
         render_servicemonitor),
    Kind("prometheusrule", "monitoring.coreos.com/v1", "PrometheusRule", "prometheusrules.monitoring.coreos.com", False,
         render_prometheusrule),
    Kind("networkpolicy", "networking.k8s.io/v1", "NetworkPolicy", None, True, render_networkpolicy),
)


def kinds(track="stable"):
    """[{api_version, kind, crd?}] the role owns (all of them, or the canary track's)."""
    out = []
    for k in KINDS:
        if track == "canary" and not k.canary:
            continue
        item = {"api_version": k.api_version, "kind": k.kind}
        if k.crd:
            item["crd"] = k.crd
        out.append(item)
    return out


def settings_with_defaults(settings):
    """DEFAULT_SETTINGS overlaid with ``settings``; unknown keys are an error (a typo would be ignored)."""
    unknown = sorted(set(settings or {}) - set(DEFAULT_SETTINGS))
    if unknown:
        raise ValueError("unknown render setting(s) %s; known: %s" % (", ".join(unknown), ", ".join(sorted(DEFAULT_SETTINGS))))
    out = dict(DEFAULT_SETTINGS)
    out.update({k: v for k, v in (settings or {}).items() if v is not None or k == "run_as_user"})
    return out


_CPU_QUANTITY = re.compile(r"^([0-9]+(\.[0-9]+)?|[0-9]+m)$")
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def settings_problems(settings, plans):
    """What the render settings and the plans' images cannot be, worded for the user (nothing rendered yet)."""
    s = settings_with_defaults(settings)
    problems = []
    cpu = str(s.get("cpu_limit") or "none")
    if cpu not in ("request", "none") and not _CPU_QUANTITY.match(cpu):
        problems.append("vllm_deploy_cpu_limit=%r is not 'request' (limit = request: QoS Guaranteed), 'none' or a CPU "
                        "quantity such as '8' or '7500m'" % cpu)
    for plan in plans:
        image = str(plan.get("image") or "")
        if "@" in image and not _DIGEST.search(image):
            problems.append("model %s: image %r names a digest that is not sha256:<64 hex digits>; give "
                            "<repo>:<tag>@sha256:<digest> as `crane digest` or `skopeo inspect` print it"
                            % (plan["name"], image))
    return problems


def render_model(plan, settings, track="stable", live_replicas=None):
    """Every object of one model on one track (stable or canary), in apply order."""
    s = settings_with_defaults(settings)
    ctx = _Ctx(plan, s, track, live_replicas)
    out = []
    for k in KINDS:
        if track == "canary" and not k.canary:
            continue
        obj = k.render(plan, ctx)
        if obj is not None:
            out.append(obj)
    return out


def namespace_object(settings):
    s = settings_with_defaults(settings)
    if not s["create_namespace"]:
        return []
    return [{"apiVersion": "v1", "kind": "Namespace", "metadata": {
        "name": s["namespace"], "labels": {"app.kubernetes.io/managed-by": MANAGED_BY,
                                           "app.kubernetes.io/instance": s["release"]}}}]


def render_all(plans, settings, canary=None, action="none", live_replicas=None):
    """{objects, canary_objects, kinds, canary_kinds, crds} for the role's one apply step.

    ``action`` none/promote: the stable objects of every plan; deploy: only the Namespace and the canary's
    objects (stable stays untouched); abort: nothing to render.
    """
    s = settings_with_defaults(settings)
    base = namespace_object(s)
    objects, canary_objects = list(base), []
    if action in ("none", "promote"):
        for plan in plans:
            objects += render_model(plan, s, "stable", live_replicas)
    if action == "deploy" and canary:
        canary_objects = base + render_model(canary, s, "canary")
    rendered = [o for o in objects + canary_objects if o["kind"] != "Namespace"]
    present = {(o["apiVersion"], o["kind"]) for o in rendered}
    return {"objects": objects, "canary_objects": canary_objects, "kinds": kinds("stable"),
            "canary_kinds": kinds("canary"),
            "crds": [k.crd for k in KINDS if k.crd and (k.api_version, k.kind) in present]}
