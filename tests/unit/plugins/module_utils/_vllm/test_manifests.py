# -*- coding: utf-8 -*-
"""Manifests rendered in Python from a plan: golden files (reviewed by hand once; regenerate with
LLMOPS_UPDATE_GOLDEN=1 and review the diff), the kind registry, and the defaults kept equal to the role's."""

import copy
import os

import pytest
import yaml

from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import manifests

from . import test_plan as tp

HERE = os.path.dirname(__file__)
GOLDEN = os.path.join(HERE, "golden")
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", "..", "..", ".."))
AUTO = {"kind": "none", "prometheus_address": "http://prometheus-operated.monitoring.svc:9090", "kv_cache_target": 0.8,
        "scale_down_stabilization_s": 300}


def _one(**kw):
    opts = kw.pop("_opts", {})
    result = tp._plan([tp._model(**kw)], **dict({"autoscaling": AUTO}, **opts))
    assert result["problems"] == []
    return result["plans"][0]


CASES = {
    "tp2-ingress-keda": (lambda: _one(tensor_parallel_size=2, ingress_host="llm.example.com",
                                      autoscaling={"kind": "keda", "min_replicas": 1, "max_replicas": 4}), {}, "stable"),
    "hpa-servicemonitor-secrets": (lambda: _one(autoscaling={"kind": "hpa", "min_replicas": 1, "max_replicas": 3}),
                                   {"monitor_kind": "servicemonitor", "run_as_user": 1000,
                                    "hf_token_secret": {"name": "hf", "key": "token"},
                                    "api_key_secret": {"name": "api", "key": "api-key"},
                                    "resource_requests": {"cpu": "500m", "memory": "2Gi"}}, "stable"),
    "lws-tp8-pp2": (lambda: tp._plan([tp._model(tensor_parallel_size=8, pipeline_parallel_size=2, replicas=1)],
                                     parallels=[dict(tp.PARALLEL, multi_node=True)], autoscaling=AUTO)["plans"][0],
                    {}, "stable"),
    "canary-hub-weights": (lambda: _one(model="org/hub-model", hf_cache_pvc="hf", ingress_host="llm.example.com"),
                           {"canary": {"model": "llama-8b", "weight": 20}}, "canary"),
}


def _render(case):
    make, settings, track = CASES[case]
    return manifests.render_model(make(), settings, track)


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case):
    objects = _render(case)
    path = os.path.join(GOLDEN, case + ".yaml")
    text = yaml.safe_dump_all(objects, sort_keys=True, default_flow_style=False, width=120)
    if os.environ.get("LLMOPS_UPDATE_GOLDEN"):
        os.makedirs(GOLDEN, exist_ok=True)
        with open(path, "w") as handle:
            handle.write(text)
    with open(path) as handle:
        assert list(yaml.safe_load_all(handle)) == objects


def test_each_case_renders_the_kinds_it_should():
    kinds = {case: [o["kind"] for o in _render(case)] for case in CASES}
    assert kinds["tp2-ingress-keda"] == ["ConfigMap", "Deployment", "Service", "Ingress", "ScaledObject",
                                         "PodDisruptionBudget", "PodMonitor", "PrometheusRule", "NetworkPolicy"]
    assert "HorizontalPodAutoscaler" in kinds["hpa-servicemonitor-secrets"]
    assert "ServiceMonitor" in kinds["hpa-servicemonitor-secrets"] and "PodMonitor" not in kinds["hpa-servicemonitor-secrets"]
    assert kinds["lws-tp8-pp2"][:2] == ["ConfigMap", "LeaderWorkerSet"] and "PodDisruptionBudget" not in kinds["lws-tp8-pp2"]
    assert kinds["canary-hub-weights"] == ["ConfigMap", "Deployment", "Service", "Ingress", "NetworkPolicy"]


def test_every_rendered_kind_is_in_the_registry_and_canary_kinds_are_a_subset():
    registry = {(k["api_version"], k["kind"]) for k in manifests.kinds("stable")}
    for case in CASES:
        for obj in _render(case):
            assert (obj["apiVersion"], obj["kind"]) in registry
    canary = manifests.kinds("canary")
    assert all(k in manifests.kinds("stable") for k in canary)
    assert {k["kind"] for k in canary} >= {"Deployment", "Service", "Ingress", "ConfigMap", "NetworkPolicy"}


def test_live_replicas_are_kept_under_an_autoscaler_and_clamped():
    plan = CASES["tp2-ingress-keda"][0]()
    deployment = [o for o in manifests.render_model(plan, {}, "stable", {"llama-8b": 3}) if o["kind"] == "Deployment"][0]
    assert deployment["spec"]["replicas"] == 3
    deployment = [o for o in manifests.render_model(plan, {}, "stable", {"llama-8b": 99}) if o["kind"] == "Deployment"][0]
    assert deployment["spec"]["replicas"] == 4
    plain = _one()
    deployment = [o for o in manifests.render_model(plain, {}, "stable", {"llama-8b": 9}) if o["kind"] == "Deployment"][0]
    assert deployment["spec"]["replicas"] == plain["replicas"]


def test_render_all_for_each_canary_action():
    plan, canary = _one(), _one(name="llama-8b")
    out = manifests.render_all([plan], {}, None, "none")
    assert out["objects"][0]["kind"] == "Namespace" and len(out["objects"]) > 5 and out["canary_objects"] == []
    assert out["crds"] == ["podmonitors.monitoring.coreos.com", "prometheusrules.monitoring.coreos.com"]
    out = manifests.render_all([plan], {"create_namespace": False}, canary, "deploy")
    assert out["objects"] == [] and {o["metadata"]["name"] for o in out["canary_objects"]} == {"llama-8b-canary",
                                                                                               "llama-8b-canary-args"}
    assert out["crds"] == []
    assert manifests.render_all([plan], {}, None, "abort")["objects"][0]["kind"] == "Namespace"


def test_unknown_setting_is_refused():
    with pytest.raises(ValueError, match="unknown render setting.*ingres_class"):
        manifests.render_model(_one(), {"ingres_class": "nginx"})


def test_defaults_equal_the_roles():
    with open(os.path.join(ROOT, "roles", "vllm_deploy", "defaults", "main.yml")) as handle:
        role = yaml.safe_load(handle)
    for key, value in manifests.DEFAULT_SETTINGS.items():
        assert role["vllm_deploy_" + key] == value, key


def test_rendering_does_not_modify_the_plan():
    plan = _one(ingress_host="a.example.com")
    before = copy.deepcopy(plan)
    manifests.render_model(plan, {"ingress_annotations": {"x": "y"}, "node_selector": {"a": "b"}})
    assert plan == before


def test_no_two_places_share_one_mapping():
    """A shared nested dict (a YAML anchor) would let a change to one probe silently change the others."""
    seen = {}

    def walk(node, path):
        if isinstance(node, (dict, list)):
            assert id(node) not in seen, "%s is the same object as %s" % (path, seen[id(node)])
            seen[id(node)] = path
            for key, child in (node.items() if isinstance(node, dict) else enumerate(node)):
                walk(child, "%s/%s" % (path, key))
    for case in CASES:
        seen.clear()
        walk(_render(case), case)


def _rules(plan):
    rule = [o for o in manifests.render_model(plan, {}, "stable") if o["kind"] == "PrometheusRule"][0]
    return {r["alert"]: r for r in rule["spec"]["groups"][0]["rules"]}


def test_alert_durations_and_waiting_threshold_are_the_given_ones():
    rules = _rules(_one())
    assert {a: r["for"] for a, r in rules.items()} == {
        "VllmKvCacheNearlyFull": "10m", "VllmRequestsQueueing": "5m", "VllmPreempting": "15m",
        "VllmHighErrorRate": "5m", "VllmSlowFirstToken": "10m", "VllmPodRestarting": "0m",
        "VllmPodNotReady": "%dm" % (-(-_one()["startup_budget_s"] // 60) + 5)}
    sized = rules["VllmRequestsQueueing"]["expr"]
    rules = _rules(_one(_opts={"alert_for": {"waiting": "30s", "ttft": "1h30m"}, "waiting_alert": 3}))
    assert rules["VllmRequestsQueueing"]["for"] == "30s" and rules["VllmSlowFirstToken"]["for"] == "1h30m"
    assert rules["VllmKvCacheNearlyFull"]["for"] == "10m"
    assert rules["VllmRequestsQueueing"]["expr"].endswith(" > 3") and not sized.endswith(" > 3")
    assert "for 30s" in rules["VllmRequestsQueueing"]["annotations"]["summary"]


@pytest.mark.parametrize("opts, needle", [
    ({"alert_for": {"queue": "5m"}}, "alert_for.queue is not an alert; known: error_rate, kv_cache, not_ready, "
                                     "preempting, restarts, ttft, waiting"),
    ({"alert_for": {"waiting": "5 minutes"}}, "alert_for.waiting='5 minutes' is not a Prometheus duration"),
    ({"alert_for": {"waiting": 5}}, "alert_for.waiting=5 is not a Prometheus duration"),
    ({"waiting_alert": -1}, "waiting_alert=-1 is negative"),
])
def test_bad_alert_settings_are_refused_naming_the_value(opts, needle):
    result = tp._plan([tp._model()], **dict({"autoscaling": AUTO}, **opts))
    assert any(needle in p for p in result["problems"]), result["problems"]


def test_keda_and_hpa_scale_in_with_the_same_window():
    """KEDA's cooldownPeriod only governs the last replica (to zero): N -> N-1 is decided by the HPA KEDA creates,
    whose default scale-down window is 300 s whatever scale_down_stabilization_s says, unless the ScaledObject
    carries the behavior."""
    auto = dict(AUTO, scale_down_stabilization_s=30)
    keda = _one(autoscaling={"kind": "keda", "min_replicas": 1, "max_replicas": 2}, _opts={"autoscaling": auto})
    hpa = _one(autoscaling={"kind": "hpa", "min_replicas": 1, "max_replicas": 2}, _opts={"autoscaling": auto})
    so = [o for o in manifests.render_model(keda, {}, "stable") if o["kind"] == "ScaledObject"][0]
    h = [o for o in manifests.render_model(hpa, {}, "stable") if o["kind"] == "HorizontalPodAutoscaler"][0]
    behavior = so["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 30
    assert behavior == h["spec"]["behavior"]
    assert so["spec"]["cooldownPeriod"] == 30
