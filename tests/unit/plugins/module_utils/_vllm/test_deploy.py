# -*- coding: utf-8 -*-
"""The role's one core call: real model configs, real sizing and parallel checks, Node objects as the API
returns them; asserts on the plans, problems and rendered objects."""

import os

from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import deploy

HERE = os.path.dirname(__file__)
CONFIGS = os.path.abspath(os.path.join(HERE, "..", "..", "..", "..", "fixtures", "model_configs"))
LLAMA8B = os.path.join(CONFIGS, "meta-llama--Llama-3.1-8B-Instruct")


def _node(name, product, gpus, labels=None):
    return {"metadata": {"name": name, "labels": dict({"nvidia.com/gpu.product": product}, **(labels or {}))},
            "spec": {"taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]},
            "status": {"allocatable": {"nvidia.com/gpu": str(gpus)}}}


NODES = [_node("l40s-0", "NVIDIA-L40S", 4), _node("l40s-1", "NVIDIA-L40S", 4), _node("l4-0", "NVIDIA-L4", 4)]
CRDS = ["podmonitors.monitoring.coreos.com", "prometheusrules.monitoring.coreos.com", "scaledobjects.keda.sh"]
OPTIONS = {"vllm_version": "0.33.0", "instance": "vllm", "autoscaling": {"kind": "none"},
           "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]}
DEFAULTS = {"gpu_memory_utilization": 0.9, "model_pvc": "models"}


def _call(models, cluster=None, **kw):
    base = {"nodes": NODES, "pods": [], "pvcs": ["models"], "crds": CRDS, "secrets": {}}
    base.update(cluster or {})
    return deploy.plan_deployment(models, kw.pop("defaults", DEFAULTS), kw.pop("canary", None), kw.pop("action", "none"),
                                  dict(OPTIONS, **kw.pop("options", {})), kw.pop("settings", {}), base)


def _llama(**kw):
    return dict({"name": "llama-8b", "model_config_path": LLAMA8B, "gpu_product": "NVIDIA-L40S", "replicas": 2,
                 "max_model_len": 8192}, **kw)


def test_a_model_that_fits_is_planned_and_rendered():
    out = _call([_llama()])
    assert out["problems"] == []
    assert [p["name"] for p in out["plans"]] == ["llama-8b"] and out["plans"][0]["nodes"] == ["l40s-0", "l40s-1"]
    kinds = [o["kind"] for o in out["objects"]]
    assert kinds[0] == "Namespace" and "Deployment" in kinds and "PodMonitor" in kinds
    assert out["crds"] == ["podmonitors.monitoring.coreos.com", "prometheusrules.monitoring.coreos.com"]


def test_schema_problems_stop_before_sizing_and_render_nothing():
    out = _call([_llama(tensor_paralel_size=2)])
    assert out["objects"] == [] and out["plans"] == []
    assert "did you mean `tensor_parallel_size`?" in out["problems"][0]


def test_unpinned_max_model_len_is_resized_to_what_fits():
    # 131072 tokens of Llama 3.1 8B do not fit one L4 (22 GiB usable): re-sized once, pinned values are not
    out = _call([_llama(gpu_product="NVIDIA-L4", max_model_len=-1, replicas=1)])
    assert out["problems"] == [], out["problems"]
    mml = int(out["plans"][0]["args"][out["plans"][0]["args"].index("--max-model-len") + 1])
    assert 0 < mml < 131072
    out = _call([_llama(gpu_product="NVIDIA-L4", max_model_len=131072, replicas=1)])
    assert any("does not fit" in p for p in out["problems"]), out["problems"]


def test_missing_references_and_crds_are_problems():
    out = _call([_llama()], cluster={"pvcs": []}, settings={"api_key_secret": {"name": "api", "key": "api-key"}})
    assert any("Secret llm-serving/api does not exist" in p for p in out["problems"])
    assert any("PersistentVolumeClaim llm-serving/models does not exist" in p for p in out["problems"])
    out = _call([_llama()], cluster={"secrets": {"api": ["other"]}}, settings={"api_key_secret": {"name": "api", "key": "api-key"}})
    assert out["problems"] == ["Secret llm-serving/api has no key api-key; keys present: other"]
    out = _call([_llama()], cluster={"crds": []})
    assert out["objects"] == [] and len(out["problems"]) == 2 and "CRD podmonitors.monitoring.coreos.com" in out["problems"][0]


def test_mig_from_node_labels_refuses_tp2():
    nodes = [_node("a100-0", "NVIDIA-A100-SXM4-40GB", 7, {"nvidia.com/mig.strategy": "single",
                                                          "nvidia.com/mig.config": "all-3g.20gb"})]
    out = _call([_llama(gpu_product="NVIDIA-A100-SXM4-40GB", tensor_parallel_size=2, replicas=1)], cluster={"nodes": nodes})
    assert any("MIG" in p for p in out["problems"]), out["problems"]


def test_canary_deploy_renders_only_the_canary():
    out = _call([_llama()], canary={"model": "llama-8b", "weight": 20, "replicas": 1, "settings": {"max_model_len": 4096}},
                action="deploy", cluster={"nodes": NODES + [_node("l40s-2", "NVIDIA-L40S", 4)]})
    assert out["problems"] == [], out["problems"]
    assert [o for o in out["objects"] if o["kind"] != "Namespace"] == []
    names = {o["metadata"]["name"] for o in out["canary_objects"] if o["kind"] != "Namespace"}
    assert names == {"llama-8b-canary", "llama-8b-canary-args"}


def test_unknown_render_setting_is_a_problem():
    out = _call([_llama()], settings={"ingres_class": "nginx"})
    assert out["objects"] == [] and "unknown render setting(s) ingres_class" in out["problems"][0]


def test_cluster_from_read_set_results():
    reads = {"nodes": NODES, "pods": [], "pvcs": [{"metadata": {"name": "models"}}],
             "live": [{"metadata": {"name": "llama-8b"}, "spec": {"replicas": 3}}],
             "secret/api": [{"kind": "Secret", "metadata": {"name": "api"}, "data": {"api-key": "", "b": ""}}],
             "secret/gone": [], "crd/scaledobjects.keda.sh": [{"metadata": {"name": "scaledobjects.keda.sh"}}],
             "crd/podmonitors.monitoring.coreos.com": [], "namespace": []}
    cluster = deploy.cluster_from_reads(reads)
    assert cluster["pvcs"] == ["models"] and cluster["live_replicas"] == {"llama-8b": 3}
    assert cluster["secrets"] == {"api": ["api-key", "b"]} and cluster["crds"] == ["scaledobjects.keda.sh"]
    assert cluster["namespace_exists"] is False
    assert "namespace_exists" not in deploy.cluster_from_reads({"nodes": []})


# ------------------------------------------------------------------------------------------------ OpenShift
OPENSHIFT_CRDS = CRDS + ["clusterversions.config.openshift.io", "routes.route.openshift.io"]


def _kinds(out):
    return [o["kind"] for o in out["objects"]]


def test_openshift_is_detected_from_its_cluster_version_crd_and_gets_a_route_not_an_ingress():
    out = _call([_llama(ingress_host="llm.apps.example.com")], cluster={"crds": OPENSHIFT_CRDS})
    assert out["problems"] == [] and out["platform"] == "openshift"
    assert "Route" in _kinds(out) and "Ingress" not in _kinds(out)
    route = [o for o in out["objects"] if o["kind"] == "Route"][0]
    assert route["spec"]["host"] == "llm.apps.example.com" and route["spec"]["to"] == {
        "kind": "Service", "name": "llama-8b", "weight": 100}
    assert route["spec"]["tls"] == {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"}
    assert route["metadata"]["annotations"]["haproxy.router.openshift.io/timeout"] == "3600s"
    assert "routes.route.openshift.io" in out["crds"]
    pod = [o for o in out["objects"] if o["kind"] == "Deployment"][0]["spec"]["template"]["spec"]
    assert "runAsUser" not in pod["securityContext"]     # restricted-v2 assigns the uid
    assert {"name": "USER", "value": "vllm"} in pod["containers"][0]["env"]
    policy = [o for o in out["objects"] if o["kind"] == "NetworkPolicy"][0]
    groups = [sel["namespaceSelector"]["matchLabels"].get("network.openshift.io/policy-group")
              for rule in policy["spec"]["ingress"] for sel in rule["from"] if "namespaceSelector" in sel]
    assert "ingress" in groups and "monitoring" in groups


def test_a_cluster_with_only_the_route_crd_is_not_openshift():
    out = _call([_llama(ingress_host="llm.example.com")], cluster={"crds": CRDS + ["routes.route.openshift.io"]})
    assert out["platform"] == "kubernetes" and "Ingress" in _kinds(out) and "Route" not in _kinds(out)


def test_the_platform_can_be_given_and_a_route_needs_its_crd():
    out = _call([_llama(ingress_host="llm.example.com")], settings={"platform": "openshift"})
    assert out["problems"] == ["CRD routes.route.openshift.io is not installed; install its operator (monitoring "
                               "role, KEDA, LeaderWorkerSet) or turn the feature off"]
    out = _call([_llama(ingress_host="llm.example.com")], settings={"platform": "kubernetes"},
                cluster={"crds": OPENSHIFT_CRDS})
    assert out["platform"] == "kubernetes" and "Ingress" in _kinds(out)
    out = _call([_llama()], settings={"platform": "okd"})
    assert out["problems"] == ["vllm_deploy_platform='okd' is not one of auto, kubernetes, openshift"]


def test_a_canary_on_openshift_is_refused_before_anything():
    out = _call([_llama(ingress_host="llm.apps.example.com")], cluster={"crds": OPENSHIFT_CRDS}, action="deploy",
                canary={"model": "llama-8b", "weight": 20})
    assert out["objects"] == [] and "not supported yet" in out["problems"][0]
