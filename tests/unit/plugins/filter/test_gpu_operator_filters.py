"""GPU Operator filters: the chart upgrade decision (plugins/filter/gpu_operator.py)."""

from ansible_collections.llmops.vllm_serving.plugins.filter.gpu_operator import (
    gpu_operator_chart_upgrade,
    gpu_operator_chart_version,
)


def test_upgrade_decision_and_downgrade_problem():
    assert gpu_operator_chart_upgrade("gpu-operator-v25.10.0", "v26.7.0") == {
        "decision": "chart: upgrade gpu-operator v25.10.0 -> v26.7.0", "problem": ""}
    refused = gpu_operator_chart_upgrade("gpu-operator-v26.7.0", "v25.10.0")
    assert refused["decision"] == ""
    assert "is older than the deployed release (gpu-operator v26.7.0)" in refused["problem"]


def test_chart_version_from_label():
    assert gpu_operator_chart_version("gpu-operator-v26.7.0") == "v26.7.0"
