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
    assert "SUCCESS: 5 rules found" in out.stdout


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
