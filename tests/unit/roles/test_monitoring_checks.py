"""The monitoring role's setting checks, run through ansible-playbook: each bad value is refused with its own
message naming the value and what would work, all of them in one run; good values pass. The checks are the role's
first task (tag monitoring_preflight), so a refused run has touched nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def run_checks(tmp_path, **settings):
    playbook = tmp_path / "p.yml"
    playbook.write_text("- hosts: localhost\n  gather_facts: false\n  roles: [llmops.vllm_serving.monitoring]\n")
    extra = ["-e", json.dumps({"monitoring_prometheus_adapter_enabled": True, **settings})]
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build", "collections"), ANSIBLE_NOCOLOR="1")
    return subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-c", "local", "-i",
                           "localhost,", "-e", "ansible_python_interpreter=" + sys.executable, "--tags",
                           "monitoring_preflight", *extra, str(playbook)],
                          capture_output=True, text=True, env=env, check=False)


def test_every_bad_value_gets_its_own_message(tmp_path):
    out = run_checks(tmp_path, monitoring_namespace="Monitoring", monitoring_keda_namespace="keda_ns",
                     monitoring_prometheus_adapter_prometheus_url="prometheus:9090",
                     monitoring_prometheus_adapter_metric_prefix="9vllm")
    text = out.stdout + out.stderr
    assert out.returncode != 0, text
    assert "monitoring_namespace=Monitoring must be a DNS-1123 label" in text
    assert "monitoring_keda_namespace=keda_ns must be a DNS-1123 label" in text
    assert "monitoring_prometheus_adapter_prometheus_url=prometheus:9090 must be an http(s) URL" in text
    assert "monitoring_prometheus_adapter_metric_prefix=9vllm must be a metric-name prefix" in text


@pytest.mark.parametrize("url", [
    "http://kube-prometheus-stack-prometheus.monitoring.svc:9090",
    "https://prometheus.example.com/",
    "http://thanos-query.monitoring.svc:9090/prometheus",
])
def test_good_values_pass(tmp_path, url):
    out = run_checks(tmp_path, monitoring_prometheus_adapter_prometheus_url=url)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "must be" not in out.stdout


def test_one_bad_value_is_named_alone(tmp_path):
    out = run_checks(tmp_path, monitoring_prometheus_adapter_prometheus_url="http://prom:9090 extra")
    assert out.returncode != 0
    assert "monitoring_prometheus_adapter_prometheus_url=http://prom:9090 extra must be" in out.stdout
    assert "DNS-1123" not in out.stdout


def test_bad_gpu_rule_setting_and_dashboard_version_are_refused_before_any_change(tmp_path):
    out = run_checks(tmp_path, monitoring_gpu_rules={"temperature_c": 85, "xid": 1})
    assert out.returncode != 0
    assert "unknown GPU rule setting(s) xid; known: memory_for" in out.stdout
    out = run_checks(tmp_path, monitoring_dashboards_vllm_version="0.4.0")
    assert out.returncode != 0
    assert "0.4.0" in out.stdout


def test_two_external_metrics_servers_are_refused(tmp_path):
    external = {"rules": {"external": [{"seriesQuery": "vllm:num_requests_waiting", "metricsQuery": "sum(<<.Series>>)"}]}}
    out = run_checks(tmp_path, monitoring_keda_enabled=True, monitoring_prometheus_adapter_values=external)
    assert out.returncode != 0
    assert "prometheus-adapter would register the v1beta1.external.metrics.k8s.io APIService" in out.stdout
    out = run_checks(tmp_path, monitoring_keda_enabled=False, monitoring_prometheus_adapter_values=external)
    assert out.returncode == 0, out.stdout
