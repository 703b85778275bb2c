"""Every PrometheusRule the collection renders, checked by the real promtool (built from the pinned Prometheus
module by hack/testbed.sh build), and rule unit tests (`promtool test rules`) that prove the alerts fire on
the series vLLM exports and stay silent below their thresholds. Metric names follow the plan's vLLM release:
each supported release family is checked with its own names."""

import os

import pytest
import yaml

from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import manifests

from ..promtool_runner import needs_promtool
from ..promtool_runner import promtool as _promtool
from . import test_manifests as tm
from . import test_plan as tp

pytestmark = needs_promtool

RELEASES = ["0.6.6", "0.8.5", "0.9.2", "0.11.0", "0.33.0"]
RULES = 7  # KV cache, waiting, preempting, error ratio, TTFT p99, restarts, not ready


def _rule_group(plan):
    rule = [o for o in manifests.render_model(plan, {}, "stable") if o["kind"] == "PrometheusRule"]
    assert len(rule) == 1
    return rule[0]["spec"]


def _selector(spec, alert="VllmRequestsQueueing"):
    """The labels the rendered expression selects on (namespace, model_name), read back from the expression."""
    expr = [r for r in spec["groups"][0]["rules"] if r["alert"] == alert][0]["expr"]
    return expr.split("{", 1)[1].split("}", 1)[0]


@pytest.mark.parametrize("release", RELEASES)
def test_rendered_rules_pass_promtool_check_for_each_release(tmp_path, release):
    spec = _rule_group(tm._one(_opts={"vllm_version": release}))
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(spec))
    out = _promtool(tmp_path, "check", "rules", str(path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS: %d rules found" % RULES in out.stdout


def test_golden_rules_pass_promtool_check(tmp_path):
    found = 0
    for name in sorted(os.listdir(tm.GOLDEN)):
        with open(os.path.join(tm.GOLDEN, name)) as handle:
            for obj in yaml.safe_load_all(handle):
                if obj and obj["kind"] == "PrometheusRule":
                    found += 1
                    path = tmp_path / ("%s-%d.yaml" % (name, found))
                    path.write_text(yaml.safe_dump(obj["spec"]))
                    out = _promtool(tmp_path, "check", "rules", str(path))
                    assert out.returncode == 0, "%s: %s" % (name, out.stdout + out.stderr)
    assert found >= 3


def test_promtool_refuses_a_broken_expression(tmp_path):
    """The control: the check above can fail."""
    spec = _rule_group(tm._one())
    spec["groups"][0]["rules"][0]["expr"] = "max(vllm:kv_cache_usage_perc{namespace=\"ns\"} > "
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(spec))
    out = _promtool(tmp_path, "check", "rules", str(path))
    assert out.returncode != 0 and "parse error" in (out.stdout + out.stderr)


def _alerts_test(spec, series, evals):
    return {"rule_files": ["rules.yaml"], "evaluation_interval": "1m",
            "tests": [{"interval": "1m", "input_series": series, "alert_rule_test": evals}]}


@pytest.mark.parametrize("release, kv_metric", [("0.8.5", "vllm:gpu_cache_usage_perc"), ("0.33.0", "vllm:kv_cache_usage_perc")])
def test_alerts_fire_on_vllm_series_and_not_below_threshold(tmp_path, release, kv_metric):
    plan = tm._one(_opts={"vllm_version": release, "waiting_alert": 4, "alert_for": {"waiting": "2m", "kv_cache": "3m"}})
    spec = _rule_group(plan)
    labels = "{%s,pod=\"llama-8b-0\"}" % _selector(spec)
    series = [
        # waiting per replica: 0 for 3 min, then 6 (> 4) from minute 3 on
        {"series": "vllm:num_requests_waiting" + labels, "values": "0x2 6x10"},
        # KV cache: 0.5, then 0.95 (> 0.9) from minute 2 on
        {"series": kv_metric + labels, "values": "0.5 0.5 0.95x10"},
    ]
    evals = [
        {"eval_time": "3m", "alertname": "VllmRequestsQueueing", "exp_alerts": []},     # just crossed: pending
        {"eval_time": "6m", "alertname": "VllmRequestsQueueing", "exp_alerts": [
            {"exp_labels": {"severity": "warning", "model": "llama-8b"},
             "exp_annotations": spec["groups"][0]["rules"][1]["annotations"]}]},
        {"eval_time": "4m", "alertname": "VllmKvCacheNearlyFull", "exp_alerts": []},
        {"eval_time": "6m", "alertname": "VllmKvCacheNearlyFull", "exp_alerts": [
            {"exp_labels": {"severity": "warning", "model": "llama-8b"},
             "exp_annotations": spec["groups"][0]["rules"][0]["annotations"]}]},
        {"eval_time": "6m", "alertname": "VllmPreempting", "exp_alerts": []},
    ]
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(spec))
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(_alerts_test(spec, series, evals)))
    out = _promtool(tmp_path, "test", "rules", "test.yaml")
    assert out.returncode == 0, out.stdout + out.stderr


def test_rule_unit_test_catches_a_wrong_threshold(tmp_path):
    """The control: a waiting level at the threshold (not above it) must not fire; asserting it does fails."""
    spec = _rule_group(tm._one(_opts={"waiting_alert": 4, "alert_for": {"waiting": "1m"}}))
    series = [{"series": "vllm:num_requests_waiting{%s}" % _selector(spec), "values": "4x10"}]
    evals = [{"eval_time": "5m", "alertname": "VllmRequestsQueueing",
              "exp_alerts": [{"exp_labels": {"severity": "warning", "model": "llama-8b"}}]}]
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(spec))
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(_alerts_test(spec, series, evals)))
    out = _promtool(tmp_path, "test", "rules", "test.yaml")
    assert out.returncode != 0 and "VllmRequestsQueueing" in (out.stdout + out.stderr)


def test_release_families_differ_in_the_kv_metric():
    old = _rule_group(tm._one(_opts={"vllm_version": "0.8.5"}))["groups"][0]["rules"][0]["expr"]
    new = _rule_group(tm._one(_opts={"vllm_version": "0.33.0"}))["groups"][0]["rules"][0]["expr"]
    assert "vllm:gpu_cache_usage_perc" in old and "vllm:kv_cache_usage_perc" in new
    assert tp.OPTS["vllm_version"] == "0.33.0"


def _run_alert_test(tmp_path, spec, series, evals):
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(spec))
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(_alerts_test(spec, series, evals)))
    return _promtool(tmp_path, "test", "rules", "test.yaml")


def _rule(spec, alert):
    return [r for r in spec["groups"][0]["rules"] if r["alert"] == alert][0]


def test_ttft_p99_fires_from_the_histogram_when_one_request_in_a_hundred_is_slow(tmp_path):
    """p99 (not p95): 97 of every 100 first tokens in 0.5 s and 3 in 10-20 s put the p99 above the 4 s threshold
    while the p95 stays at 0.5 s; 100 fast ones keep it silent."""
    plan = tm._one(_opts={"alert_for": {"ttft": "2m"}})
    spec = _rule_group(plan)
    assert "histogram_quantile(0.99," in _rule(spec, "VllmSlowFirstToken")["expr"]
    sel = _selector(spec)
    metric = "vllm:time_to_first_token_seconds_bucket"
    series = []
    # per minute: 100 requests; until minute 5 all under 0.5 s, then 97 under 0.5 s and 3 between 10 s and 20 s
    for le, fast, slow in (("0.5", 100, 97), ("1.0", 100, 97), ("4.0", 100, 97), ("10.0", 100, 97),
                           ("20.0", 100, 100), ("+Inf", 100, 100)):
        series.append({"series": '%s{%s,pod="llama-8b-0",le="%s"}' % (metric, sel, le),
                       "values": "0+%dx5 %d+%dx15" % (fast, 5 * fast + slow, slow)})
    labels = {"severity": "warning", "model": "llama-8b"}
    evals = [
        {"eval_time": "5m", "alertname": "VllmSlowFirstToken", "exp_alerts": []},
        {"eval_time": "14m", "alertname": "VllmSlowFirstToken", "exp_alerts": [
            {"exp_labels": labels, "exp_annotations": _rule(spec, "VllmSlowFirstToken")["annotations"]}]},
    ]
    out = _run_alert_test(tmp_path, spec, series, evals)
    assert out.returncode == 0, out.stdout + out.stderr


def test_error_ratio_fires_on_5xx_of_this_models_pods_only(tmp_path):
    spec = _rule_group(tm._one(_opts={"alert_for": {"error_rate": "1m"}}))
    ns = 'namespace="llm-serving"'
    series = [
        {"series": 'http_requests_total{%s,pod="llama-8b-5d9c7f6b8d-x2k4q",handler="/v1/completions",status="2xx"}' % ns,
         "values": "0+90x20"},
        {"series": 'http_requests_total{%s,pod="llama-8b-5d9c7f6b8d-x2k4q",handler="/v1/completions",status="5xx"}' % ns,
         "values": "0+2x9 18+10x10"},
        # another model whose name starts with this one's: its errors must not count
        {"series": 'http_requests_total{%s,pod="llama-8b-big-7c9f8d6b5c-q8w2e",handler="/v1/completions",status="5xx"}' % ns,
         "values": "0+500x20"},
    ]
    evals = [
        # 2 errors in 92 requests a minute: under 5% - unless the other model's errors were counted
        {"eval_time": "8m", "alertname": "VllmHighErrorRate", "exp_alerts": []},
        {"eval_time": "17m", "alertname": "VllmHighErrorRate", "exp_alerts": [
            {"exp_labels": {"severity": "critical", "model": "llama-8b"},
             "exp_annotations": _rule(spec, "VllmHighErrorRate")["annotations"]}]},
    ]
    out = _run_alert_test(tmp_path, spec, series, evals)
    assert out.returncode == 0, out.stdout + out.stderr


def test_pod_restarts_and_not_ready_fire_on_kube_state_metrics_series(tmp_path):
    plan = tm._one()
    spec = _rule_group(plan)
    not_ready_for = _rule(spec, "VllmPodNotReady")["for"]
    minutes = int(not_ready_for[:-1])
    assert minutes * 60 >= plan["startup_budget_s"] + 300
    ns, pod = 'namespace="llm-serving"', "llama-8b-5d9c7f6b8d-x2k4q"
    series = [
        # the vLLM container restarts once at minute 10 (CUDA out of memory, say)
        {"series": 'kube_pod_container_status_restarts_total{%s,pod="%s",container="vllm"}' % (ns, pod),
         "values": "0x9 1x30"},
        # a sidecar's restarts are not vLLM's
        {"series": 'kube_pod_container_status_restarts_total{%s,pod="%s",container="proxy"}' % (ns, pod),
         "values": "0+1x40"},
        # not ready from the start (loading weights, then stuck)
        {"series": 'kube_pod_status_ready{%s,pod="%s",condition="true"}' % (ns, pod), "values": "0x%d" % (minutes + 20)},
        {"series": 'kube_pod_status_ready{%s,pod="%s",condition="false"}' % (ns, pod), "values": "1x%d" % (minutes + 20)},
        # another pod of the model, ready all along
        {"series": 'kube_pod_status_ready{%s,pod="llama-8b-5d9c7f6b8d-r7t9z",condition="true"}' % ns,
         "values": "1x%d" % (minutes + 20)},
    ]
    labels = {"severity": "warning", "model": "llama-8b", "pod": pod}
    evals = [
        {"eval_time": "9m", "alertname": "VllmPodRestarting", "exp_alerts": []},
        {"eval_time": "11m", "alertname": "VllmPodRestarting", "exp_alerts": [
            {"exp_labels": labels, "exp_annotations": _rule(spec, "VllmPodRestarting")["annotations"]}]},
        {"eval_time": "30m", "alertname": "VllmPodRestarting", "exp_alerts": []},   # 15 min window passed
        {"eval_time": "%dm" % (minutes - 2), "alertname": "VllmPodNotReady", "exp_alerts": []},  # still in its budget
        {"eval_time": "%dm" % (minutes + 2), "alertname": "VllmPodNotReady", "exp_alerts": [
            {"exp_labels": dict(labels, severity="critical"),
             "exp_annotations": _rule(spec, "VllmPodNotReady")["annotations"]}]},
    ]
    out = _run_alert_test(tmp_path, spec, series, evals)
    assert out.returncode == 0, out.stdout + out.stderr


def test_preemptions_fire_while_the_counter_grows_and_clear_after(tmp_path):
    spec = _rule_group(tm._one(_opts={"alert_for": {"preempting": "2m"}}))
    labels = "{%s,pod=\"llama-8b-0\"}" % _selector(spec)
    # no preemption for 5 min, then 3 a minute for 10 min, then none again
    series = [{"series": "vllm:num_preemptions_total" + labels, "values": "0x5 3+3x9 30x20"}]
    evals = [
        {"eval_time": "5m", "alertname": "VllmPreempting", "exp_alerts": []},
        {"eval_time": "10m", "alertname": "VllmPreempting", "exp_alerts": [
            {"exp_labels": {"severity": "info", "model": "llama-8b"},
             "exp_annotations": _rule(spec, "VllmPreempting")["annotations"]}]},
        {"eval_time": "25m", "alertname": "VllmPreempting", "exp_alerts": []},   # rate over 5 min back to 0
    ]
    out = _run_alert_test(tmp_path, spec, series, evals)
    assert out.returncode == 0, out.stdout + out.stderr
