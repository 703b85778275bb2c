# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The GPU alert rules the monitoring role installs, on the DCGM exporter's default fields (``dcgm.METRICS``).

One PrometheusRule (``llmops-gpu``) with: temperature high, an XID error reported, uncorrectable memory errors
(remapped rows pending a reset, a failed remap), GPU memory nearly full as used / (used + free) (never
used / free), and utilisation of a GPU a pod holds outside the target band for long (below: more GPUs than the
load needs; above: too few). The vLLM alerts per model are vllm_deploy's (``_vllm.manifests``).
"""

from __future__ import annotations

import re

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._monitoring import dcgm
from ansible_collections.llmops.vllm_serving.plugins.module_utils._monitoring.dashboards import MANAGED_LABELS

DEFAULTS = {
    "temperature_c": 85,          # NVIDIA datacenter GPUs slow down from about 87-90 C
    "temperature_for": "5m",
    "memory_used_ratio": 0.97,    # vLLM reserves gpu_memory_utilization (0.9) at start; above this others OOM
    "memory_for": "15m",
    "utilization_low_pct": 70,
    "utilization_high_pct": 85,
    "utilization_window": "30m",
    "utilization_for": "1h",
}
_DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
_BY = "Hostname, gpu, UUID, modelName"


def _m(name):
    if name not in dcgm.METRICS:
        raise LlmopsError("%s is not exported by dcgm-exporter %s by default" % (name, dcgm.EXPORTER_VERSION))
    return name


def settings_with_defaults(settings=None):
    """Merge and check the rule settings; every problem is named, unknown keys are refused."""
    settings = dict(settings or {})
    unknown = sorted(set(settings) - set(DEFAULTS))
    if unknown:
        raise LlmopsError("unknown GPU rule setting(s) %s; known: %s" % (", ".join(unknown), ", ".join(sorted(DEFAULTS))))
    merged = dict(DEFAULTS, **settings)
    problems = []
    for key, value in merged.items():
        if key.endswith(("_for", "_window")):
            if not isinstance(value, str) or not _DURATION.match(value):
                problems.append("%s=%r is not a Prometheus duration (for example 5m, 1h30m)" % (key, value))
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append("%s=%r is not a number" % (key, value))
    if not problems:
        if not 0 < merged["memory_used_ratio"] <= 1:
            problems.append("memory_used_ratio=%r must be in (0, 1], for example 0.97" % merged["memory_used_ratio"])
        if not 0 <= merged["utilization_low_pct"] < merged["utilization_high_pct"] <= 100:
            problems.append("utilization_low_pct=%r and utilization_high_pct=%r must satisfy 0 <= low < high <= 100 "
                            "(for example 70 and 85)" % (merged["utilization_low_pct"], merged["utilization_high_pct"]))
        if not 0 < merged["temperature_c"] < 130:
            problems.append("temperature_c=%r is not a GPU temperature in C (for example 85)" % merged["temperature_c"])
    if problems:
        raise LlmopsError("; ".join(problems))
    return merged


def gpu_rules(settings=None):
    """The rule groups (PrometheusRule spec) for the GPUs."""
    s = settings_with_defaults(settings)
    used, free = _m("DCGM_FI_DEV_FB_USED"), _m("DCGM_FI_DEV_FB_FREE")
    util = "avg by (%s, namespace, pod) (avg_over_time(%s{pod!=\"\"}[%s]))" % (
        _BY, _m("DCGM_FI_DEV_GPU_UTIL"), s["utilization_window"])
    where = "GPU {{ $labels.gpu }} ({{ $labels.modelName }}, {{ $labels.UUID }}) on {{ $labels.Hostname }}"

    def rule(alert, expr, duration, severity, summary, description):
        return {"alert": alert, "expr": expr, "for": duration, "labels": {"severity": severity},
                "annotations": {"summary": summary, "description": description}}

    rules = [
        rule("GpuTemperatureHigh", "max by (%s) (%s) > %s" % (_BY, _m("DCGM_FI_DEV_GPU_TEMP"), s["temperature_c"]),
             s["temperature_for"], "warning", "%s is at {{ $value }} C" % where,
             "Above %s C for %s: the GPU throttles its clocks; check the cooling and the fans of the node."
             % (s["temperature_c"], s["temperature_for"])),
        rule("GpuXidError", "max by (%s) (%s) > 0" % (_BY, _m("DCGM_FI_DEV_XID_ERRORS")), "0m", "critical",
             "%s reported XID {{ $value }}" % where,
             "The driver logged an XID error (dmesg: NVRM: Xid). 48/63/64/94/95: memory errors; 74: NVLink; 79: the "
             "GPU fell off the bus; 13/31/43: usually the application. Drain the node if it repeats."),
        rule("GpuUncorrectableMemoryErrors", "max by (%s) (increase(%s[1h])) > 0"
             % (_BY, _m("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS")), "0m", "warning",
             "%s remapped rows after uncorrectable memory errors" % where,
             "The remap takes effect at the next GPU reset: drain the node and reset the GPU (nvidia-smi -r) soon."),
        rule("GpuRowRemapFailed", "max by (%s) (%s) > 0" % (_BY, _m("DCGM_FI_DEV_ROW_REMAP_FAILURE")), "0m",
             "critical", "%s could not remap a failing memory row" % where,
             "The GPU has no spare rows left for an uncorrectable error: take it out of service and replace it."),
        rule("GpuMemoryNearlyFull", "max by (%s) (%s / (%s + %s)) > %s" % (_BY, used, used, free, s["memory_used_ratio"]),
             s["memory_for"], "warning", "%s memory is {{ $value | humanizePercentage }} used" % where,
             "Framebuffer used / (used + free) above %s for %s: another process shares the GPU with vLLM, or "
             "gpu_memory_utilization is set too high; the next allocation may fail with CUDA out of memory."
             % (s["memory_used_ratio"], s["memory_for"])),
        rule("GpuUnderutilized", "%s < %s" % (util, s["utilization_low_pct"]), s["utilization_for"], "info",
             "%s held by {{ $labels.namespace }}/{{ $labels.pod }} averages {{ $value }}%% utilisation" % where,
             "Below the %s-%s%% target band for %s: the model has more GPUs than its load needs (fewer replicas, "
             "a smaller tensor parallel size, or time-slicing)."
             % (s["utilization_low_pct"], s["utilization_high_pct"], s["utilization_for"])),
        rule("GpuOverutilized", "%s > %s" % (util, s["utilization_high_pct"]), s["utilization_for"], "info",
             "%s held by {{ $labels.namespace }}/{{ $labels.pod }} averages {{ $value }}%% utilisation" % where,
             "Above the %s-%s%% target band for %s: latency grows with the queue; add replicas or let the "
             "autoscaler go higher." % (s["utilization_low_pct"], s["utilization_high_pct"], s["utilization_for"])),
    ]
    return {"groups": [{"name": "llmops-gpu", "rules": rules}]}


def prometheus_rule(namespace, settings=None, labels=None):
    """The PrometheusRule object (labels: ours plus the site's rule selector labels)."""
    meta_labels = dict(labels or {})
    meta_labels.update(MANAGED_LABELS, **{"app.kubernetes.io/component": "gpu-rules"})
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
            "metadata": {"name": "llmops-gpu", "namespace": namespace, "labels": meta_labels},
            "spec": gpu_rules(settings)}
