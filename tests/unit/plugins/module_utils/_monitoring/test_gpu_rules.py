"""The GPU alert rules: only default dcgm-exporter fields, memory as used / (used + free), settings checked with
every problem named; the real promtool checks them and `promtool test rules` proves each alert fires on the
exporter's series past its threshold and stays silent below it."""

import os
import re

import pytest
import yaml

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._monitoring import dcgm, rules

from ..promtool_runner import needs_promtool
from ..promtool_runner import promtool as _promtool

LABELS = 'Hostname="gpu-0",gpu="0",UUID="GPU-1",modelName="NVIDIA H200",device="nvidia0"'
POD = LABELS + ',namespace="llm",pod="m-0",container="vllm"'


def test_rules_read_default_fields_only():
    spec = rules.gpu_rules()
    names = [r["alert"] for r in spec["groups"][0]["rules"]]
    assert names == ["GpuTemperatureHigh", "GpuXidError", "GpuUncorrectableMemoryErrors", "GpuRowRemapFailed",
                     "GpuMemoryNearlyFull", "GpuUnderutilized", "GpuOverutilized"]
    for r in spec["groups"][0]["rules"]:
        used = set(re.findall(r"DCGM_[A-Z_]+", r["expr"]))
        assert used and used <= set(dcgm.METRICS), r
    memory = [r["expr"] for r in spec["groups"][0]["rules"] if "FB_FREE" in r["expr"]]
    assert memory == ["max by (Hostname, gpu, UUID, modelName) (DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + "
                      "DCGM_FI_DEV_FB_FREE)) > 0.97"]


def test_settings_are_checked():
    assert rules.settings_with_defaults({"temperature_c": 80})["temperature_c"] == 80
    with pytest.raises(LlmopsError, match=r"unknown GPU rule setting\(s\) temp; known: memory_for"):
        rules.settings_with_defaults({"temp": 80})
    with pytest.raises(LlmopsError) as err:
        rules.settings_with_defaults({"temperature_for": "5 minutes", "memory_used_ratio": "high"})
    assert "temperature_for='5 minutes' is not a Prometheus duration" in str(err.value)
    assert "memory_used_ratio='high' is not a number" in str(err.value)
    with pytest.raises(LlmopsError, match=r"utilization_low_pct=90 and utilization_high_pct=85 must satisfy"):
        rules.settings_with_defaults({"utilization_low_pct": 90})
    with pytest.raises(LlmopsError, match=r"memory_used_ratio=1.5 must be in \(0, 1\]"):
        rules.settings_with_defaults({"memory_used_ratio": 1.5})


def test_prometheus_rule_object():
    obj = rules.prometheus_rule("monitoring", labels={"release": "kube-prometheus-stack"})
    assert obj["kind"] == "PrometheusRule" and obj["metadata"]["namespace"] == "monitoring"
    assert obj["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "llmops-monitoring"


@needs_promtool
def test_promtool_check(tmp_path):
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules.gpu_rules()))
    out = _promtool(tmp_path, "check", "rules", "rules.yaml")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS: 7 rules found" in out.stdout


def _series(hot):
    """Two hours of one GPU, minute by minute: `hot` past every threshold, or healthy."""
    n = 120
    values = {
        "DCGM_FI_DEV_GPU_TEMP": "90x%d" % n if hot else "60x%d" % n,
        "DCGM_FI_DEV_XID_ERRORS": "0x60 79x%d" % (n - 60) if hot else "0x%d" % n,
        "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS": "0x100 1x%d" % (n - 100) if hot else "0x%d" % n,
        "DCGM_FI_DEV_ROW_REMAP_FAILURE": "1x%d" % n if hot else "0x%d" % n,
        "DCGM_FI_DEV_FB_USED": "79000x%d" % n if hot else "72000x%d" % n,
        "DCGM_FI_DEV_FB_FREE": "1000x%d" % n if hot else "8000x%d" % n,
    }
    series = [{"series": "%s{%s}" % (k, LABELS), "values": v} for k, v in values.items()]
    return series


def _util(pct):
    return [{"series": "DCGM_FI_DEV_GPU_UTIL{%s}" % POD, "values": "%sx150" % pct}]


VALUES = {"GpuTemperatureHigh": "90", "GpuXidError": "79", "GpuMemoryNearlyFull": "98.75%"}


def _expect(alert, labels, value=None):
    """The alert promtool must see: our labels and the annotations as Prometheus renders their templates."""
    rule = [r for r in rules.gpu_rules()["groups"][0]["rules"] if r["alert"] == alert][0]
    value = value or VALUES.get(alert, "")

    def render(text):
        text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], text)
        return re.sub(r"\{\{ \$value( \| humanizePercentage)? \}\}", value, text)
    return {"exp_labels": dict(labels, alertname=alert, **rule["labels"]),
            "exp_annotations": {k: render(v) for k, v in rule["annotations"].items()}}


@needs_promtool
def test_each_alert_fires_past_its_threshold_and_not_below(tmp_path):
    base = {"Hostname": "gpu-0", "gpu": "0", "UUID": "GPU-1", "modelName": "NVIDIA H200"}
    pod = dict(base, namespace="llm", pod="m-0")
    hot = ["GpuTemperatureHigh", "GpuXidError", "GpuUncorrectableMemoryErrors", "GpuRowRemapFailed",
           "GpuMemoryNearlyFull"]
    tests = [
        {"interval": "1m", "input_series": _series(True) + _util(50), "alert_rule_test":
            [{"alertname": a, "eval_time": "110m", "exp_alerts": [_expect(a, base)]} for a in hot]
            + [{"alertname": "GpuUnderutilized", "eval_time": "140m", "exp_alerts": [_expect("GpuUnderutilized", pod, "50")]},
               {"alertname": "GpuOverutilized", "eval_time": "140m", "exp_alerts": []}]},
        {"interval": "1m", "input_series": _series(False) + _util(95), "alert_rule_test":
            [{"alertname": a, "eval_time": "110m", "exp_alerts": []} for a in hot]
            + [{"alertname": "GpuOverutilized", "eval_time": "140m", "exp_alerts": [_expect("GpuOverutilized", pod, "95")]},
               {"alertname": "GpuUnderutilized", "eval_time": "140m", "exp_alerts": []}]},
        {"interval": "1m", "input_series": _series(False) + _util(78), "alert_rule_test":
            [{"alertname": a, "eval_time": "140m", "exp_alerts": []} for a in ("GpuUnderutilized", "GpuOverutilized")]},
    ]
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules.gpu_rules()))
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump({"rule_files": ["rules.yaml"], "evaluation_interval": "1m",
                                                         "tests": tests}))
    out = _promtool(tmp_path, "test", "rules", "tests.yaml")
    assert out.returncode == 0, out.stdout + out.stderr
    assert os.path.exists(tmp_path / "rules.yaml")
