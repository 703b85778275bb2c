# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Grafana dashboards the collection ships, built from the metric tables (never typed metric names).

Two dashboards, as JSON models for a site's own Grafana (the kube-prometheus-stack Grafana stays off: AGPL):

- ``llmops-vllm``: requests running / waiting, KV-cache usage, preemptions, time to first token, inter-token
  and end-to-end latency percentiles, queue time, tokens/s, prefix-cache hit rate and finished requests by
  reason; per namespace, model (vLLM's ``model_name`` label) and pod. Metric names come from
  ``_vllm.releases.metric_names`` for the vLLM release the site runs, so a 0.8 site gets
  ``vllm:gpu_cache_usage_perc`` and V0's prefix-cache gauge, a 0.33 site ``vllm:kv_cache_usage_perc`` and V1's
  prefix-cache counters.
- ``llmops-gpu``: DCGM exporter metrics (``_monitoring.dcgm``): utilisation against the 70-85% target band,
  tensor-pipe activity, framebuffer memory as used / (used + free), temperature, power, the last XID error,
  remapped rows and row-remap failures, and which pod holds each GPU.

Every query selects through the dashboard's own variables and the ``datasource`` variable (no datasource uid
of one site is baked in). ``configmaps`` wraps them for the Grafana sidecar (label ``grafana_dashboard: "1"``
by default, the kube-prometheus-stack sidecar's; it searches every namespace).
"""

from __future__ import annotations

import json
import re

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._monitoring import dcgm
from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import releases

SCHEMA_VERSION = 39
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SIDECAR_LABELS = {"grafana_dashboard": "1"}
# every object the monitoring role applies itself carries these (its prune selector); component tells them apart
MANAGED_LABELS = {"app.kubernetes.io/managed-by": "llmops.vllm_serving", "app.kubernetes.io/part-of": "llmops-monitoring"}
# GPU utilisation target band: below it for long the model is over-provisioned, above it under-provisioned
GPU_UTIL_BAND = (70, 85)


def _variable(name, label, query, include_all=True):
    return {"type": "query", "name": name, "label": label, "datasource": DATASOURCE,
            "definition": query, "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
            "refresh": 2, "sort": 1, "includeAll": include_all, "multi": include_all,
            "allValue": ".*" if include_all else None, "current": {}, "hide": 0}


def _datasource_variable():
    return {"type": "datasource", "name": "datasource", "label": "Prometheus", "query": "prometheus",
            "current": {}, "hide": 0, "refresh": 1, "regex": "", "includeAll": False, "multi": False}


def _target(ref, expr, legend):
    return {"refId": ref, "expr": expr, "legendFormat": legend, "datasource": DATASOURCE, "range": True}


def _panel(title, targets, unit, description, width=8, height=8, kind="timeseries", extra=None):
    panel = {"type": kind, "title": title, "description": description, "datasource": DATASOURCE,
             "targets": [_target(chr(ord("A") + i), expr, legend) for i, (expr, legend) in enumerate(targets)],
             "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
             "options": {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}},
             "_size": (width, height)}
    if extra:
        for key, value in extra.items():
            if key == "defaults":
                panel["fieldConfig"]["defaults"].update(value)
            else:
                panel[key] = value
    return panel


def _layout(rows):
    """Rows of panels -> Grafana panels with ids and gridPos, left to right, top to bottom (24 columns)."""
    panels, y, next_id = [], 0, 1
    for title, row in rows:
        panels.append({"type": "row", "title": title, "id": next_id, "collapsed": False, "panels": [],
                       "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}})
        next_id, y, x, row_h = next_id + 1, y + 1, 0, 0
        for panel in row:
            width, height = panel.pop("_size")
            if x + width > 24:
                y, x, row_h = y + row_h, 0, 0
            panel["id"] = next_id
            panel["gridPos"] = {"h": height, "w": width, "x": x, "y": y}
            panels.append(panel)
            next_id, x, row_h = next_id + 1, x + width, max(row_h, height)
        y += row_h
    return panels


def _dashboard(uid, title, description, tags, variables, rows):
    return {"uid": uid, "title": title, "description": description, "tags": tags, "editable": True,
            "schemaVersion": SCHEMA_VERSION, "version": 1, "time": {"from": "now-6h", "to": "now"},
            "refresh": "30s", "timezone": "", "graphTooltip": 1, "annotations": {"list": []}, "links": [],
            "templating": {"list": [_datasource_variable()] + variables}, "panels": _layout(rows)}


def vllm_dashboard(vllm_version=releases.DEFAULT_VERSION):
    """The vLLM serving dashboard, with the metric names of that vLLM release."""
    releases.check_supported(vllm_version)
    m = releases.metric_names(vllm_version)
    sel = '{namespace=~"$namespace",model_name=~"$model",pod=~"$pod"}'
    by = "model_name, pod"

    def rate(name, extra=""):
        return "rate(%s%s[$__rate_interval])" % (m[name], sel[:-1] + extra + "}" if extra else sel)

    def quantiles(name):
        return [("histogram_quantile(%s, sum by (le, model_name) (rate(%s_bucket%s[$__rate_interval])))"
                 % (q, m[name], sel), "p%s {{model_name}}" % int(q * 100)) for q in (0.5, 0.9, 0.99)]

    if "prefix_cache_queries_total" in m:
        prefix = [("sum by (model_name) (%s) / sum by (model_name) (%s)"
                   % (rate("prefix_cache_hits_total"), rate("prefix_cache_queries_total")), "{{model_name}}")]
        prefix_note = "Prompt tokens found in the prefix cache / prompt tokens looked up (%s, %s)." % (
            m["prefix_cache_hits_total"], m["prefix_cache_queries_total"])
    else:
        prefix = [("avg by (model_name) (%s%s)" % (m["prefix_cache_hit_rate"], sel), "{{model_name}}")]
        prefix_note = "V0's block hit-rate gauge (%s)." % m["prefix_cache_hit_rate"]
    seconds = {"defaults": {"min": 0}}
    rows = [
        ("Load", [
            _panel("Requests running", [("sum by (%s) (%s%s)" % (by, m["num_requests_running"], sel), "{{pod}}")],
                   "short", "Requests in the engine's running batch, per pod (%s)." % m["num_requests_running"], 6),
            _panel("Requests waiting", [("sum by (%s) (%s%s)" % (by, m["num_requests_waiting"], sel), "{{pod}}")],
                   "short", "Requests queued for a slot, per pod (%s): what KEDA and the HPA scale on."
                   % m["num_requests_waiting"], 6),
            _panel("KV-cache usage", [("max by (%s) (%s%s)" % (by, m["kv_cache_usage"], sel), "{{pod}}")],
                   "percentunit", "Fraction of KV-cache blocks in use, per pod (%s)." % m["kv_cache_usage"], 6,
                   extra={"defaults": {"min": 0, "max": 1}}),
            _panel("Preemptions / s", [("sum by (model_name) (%s)" % rate("num_preemptions_total"), "{{model_name}}")],
                   "ops", "Requests preempted for lack of KV-cache space (%s); above 0 for long: KV cache too small "
                   "for the load." % m["num_preemptions_total"], 6),
        ]),
        ("Latency", [
            _panel("Time to first token", quantiles("time_to_first_token_seconds"), "s",
                   "p50/p90/p99 from %s_bucket." % m["time_to_first_token_seconds"], extra=seconds),
            _panel("Inter-token latency", quantiles("inter_token_latency_seconds"), "s",
                   "p50/p90/p99 from %s_bucket." % m["inter_token_latency_seconds"], extra=seconds),
            _panel("End-to-end request latency", quantiles("e2e_request_latency_seconds"), "s",
                   "p50/p90/p99 from %s_bucket." % m["e2e_request_latency_seconds"], extra=seconds),
        ]),
        ("Throughput and cache", [
            _panel("Tokens / s", [("sum by (model_name) (%s)" % rate("prompt_tokens_total"), "prompt {{model_name}}"),
                                  ("sum by (model_name) (%s)" % rate("generation_tokens_total"),
                                   "generation {{model_name}}")],
                   "short", "Prompt (prefill) and generated tokens per second (%s, %s)."
                   % (m["prompt_tokens_total"], m["generation_tokens_total"]), 6),
            _panel("Prefix-cache hit rate", prefix, "percentunit", prefix_note, 6,
                   extra={"defaults": {"min": 0, "max": 1}}),
            _panel("Finished requests / s", [("sum by (model_name, finished_reason) (%s)" % rate("request_success_total"),
                                              "{{finished_reason}} {{model_name}}")],
                   "reqps", "Requests finished, by reason (stop, length, abort%s) (%s)."
                   % (", error" if releases.parse_version(vllm_version) >= (0, 13, 0) else "", m["request_success_total"]), 6),
        ] + ([
            _panel("Queue time", [q for q in quantiles("request_queue_time_seconds") if q[1].startswith(("p50", "p99"))],
                   "s", "p50/p99 time a request waited for a slot (%s_bucket)." % m["request_queue_time_seconds"], 6,
                   extra=seconds)] if "request_queue_time_seconds" in m else [])),
    ]
    variables = [
        _variable("namespace", "Namespace", "label_values(%s, namespace)" % m["num_requests_running"]),
        _variable("model", "Model", 'label_values(%s{namespace=~"$namespace"}, model_name)' % m["num_requests_running"]),
        _variable("pod", "Pod", 'label_values(%s{namespace=~"$namespace",model_name=~"$model"}, pod)'
                  % m["num_requests_running"]),
    ]
    return _dashboard("llmops-vllm", "vLLM serving (llmops)",
                      "vLLM %s metrics of the models vllm_deploy serves, per namespace, model and pod." % vllm_version,
                      ["llmops", "vllm"], variables, rows)


def gpu_dashboard():
    """The GPU dashboard on the DCGM exporter's default metrics."""
    sel = '{Hostname=~"$host",gpu=~"$gpu"}'
    low, high = GPU_UTIL_BAND

    def g(name):
        if name not in dcgm.METRICS:
            raise LlmopsError("%s is not exported by dcgm-exporter %s by default" % (name, dcgm.EXPORTER_VERSION))
        return name + sel

    per_gpu = "{{Hostname}} gpu {{gpu}}"
    band = {"defaults": {"min": 0, "max": 100, "thresholds": {"mode": "absolute", "steps": [
        {"color": "blue", "value": None}, {"color": "green", "value": low}, {"color": "orange", "value": high}]},
        "custom": {"thresholdsStyle": {"mode": "area"}}}}
    rows = [
        ("Utilisation", [
            _panel("GPU utilisation", [("avg by (Hostname, gpu) (%s)" % g("DCGM_FI_DEV_GPU_UTIL"), per_gpu)], "percent",
                   "DCGM_FI_DEV_GPU_UTIL. Target band %d-%d%%: below it for long the model has more GPUs than its load "
                   "needs; above it, too few." % (low, high), extra=band),
            _panel("Tensor pipe active", [("avg by (Hostname, gpu) (%s)" % g("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE"), per_gpu)],
                   "percentunit", "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE: the share of cycles the tensor cores work.",
                   extra={"defaults": {"min": 0, "max": 1}}),
            _panel("GPU memory used", [("max by (Hostname, gpu) (%s / (%s + %s))" % (
                g("DCGM_FI_DEV_FB_USED"), g("DCGM_FI_DEV_FB_USED"), g("DCGM_FI_DEV_FB_FREE")), per_gpu)], "percentunit",
                "Framebuffer used / (used + free). vLLM reserves gpu_memory_utilization of the GPU at start, so a "
                "serving GPU sits near that share whatever its load.", extra={"defaults": {"min": 0, "max": 1}}),
        ]),
        ("Health", [
            _panel("Temperature", [("max by (Hostname, gpu) (%s)" % g("DCGM_FI_DEV_GPU_TEMP"), "GPU " + per_gpu),
                                   ("max by (Hostname, gpu) (%s)" % g("DCGM_FI_DEV_MEMORY_TEMP"), "memory " + per_gpu)],
                   "celsius", "DCGM_FI_DEV_GPU_TEMP and DCGM_FI_DEV_MEMORY_TEMP.", 6),
            _panel("Power", [("sum by (Hostname, gpu) (%s)" % g("DCGM_FI_DEV_POWER_USAGE"), per_gpu)], "watt",
                   "DCGM_FI_DEV_POWER_USAGE.", 6),
            _panel("Last XID error", [("max by (Hostname, gpu) (%s)" % g("DCGM_FI_DEV_XID_ERRORS"), per_gpu)], "none",
                   "DCGM_FI_DEV_XID_ERRORS holds the last XID the driver reported (0: none). 48/63/64/74/79/94/95 "
                   "mean the GPU needs attention (ECC, row remap, NVLink, fallen off the bus).", 6, kind="stat",
                   extra={"defaults": {"thresholds": {"mode": "absolute", "steps": [
                       {"color": "green", "value": None}, {"color": "red", "value": 1}]}}}),
            _panel("Remapped rows", [
                ("max by (Hostname, gpu) (%s)" % g("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS"), "uncorrectable " + per_gpu),
                ("max by (Hostname, gpu) (%s)" % g("DCGM_FI_DEV_ROW_REMAP_FAILURE"), "remap failed " + per_gpu)],
                "none", "Rows remapped after uncorrectable memory errors, and whether a remap failed (then the GPU "
                "must be reset or replaced).", 6),
        ]),
        ("Placement", [
            _panel("Who holds each GPU", [("max by (Hostname, gpu, modelName, namespace, pod) (%s)"
                                           % g("DCGM_FI_DEV_GPU_UTIL"), "")], "percent",
                   "GPU utilisation by the pod holding the GPU (the exporter's Kubernetes pod mapping).", 24, 8,
                   kind="table", extra={"options": {"showHeader": True}}),
        ]),
    ]
    variables = [
        _variable("host", "Host", "label_values(DCGM_FI_DEV_GPU_UTIL, Hostname)"),
        _variable("gpu", "GPU", 'label_values(DCGM_FI_DEV_GPU_UTIL{Hostname=~"$host"}, gpu)'),
    ]
    return _dashboard("llmops-gpu", "GPUs (llmops, DCGM exporter)",
                      "NVIDIA GPUs through dcgm-exporter %s's default metrics." % dcgm.EXPORTER_VERSION,
                      ["llmops", "gpu", "dcgm"], variables, rows)


def dashboards(vllm_version=releases.DEFAULT_VERSION):
    return {"llmops-vllm": vllm_dashboard(vllm_version), "llmops-gpu": gpu_dashboard()}


_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")


def configmaps(namespace, vllm_version=releases.DEFAULT_VERSION, labels=None):
    """One ConfigMap per dashboard for the Grafana sidecar; ``labels`` (default ``grafana_dashboard: "1"``) are
    what the site's sidecar selects on."""
    labels = dict(SIDECAR_LABELS if labels is None else labels)
    for key, value in labels.items():
        if not isinstance(value, str) or not _LABEL_KEY.match(str(key)) or not _LABEL_VALUE.match(value):
            raise LlmopsError("dashboard label %s=%r is not a Kubernetes label (key: [prefix/]name, value: a string "
                              "of at most 63 letters, digits, '-', '_', '.'); the sidecar's default is "
                              'grafana_dashboard: "1"' % (key, value))
    out = []
    for uid, board in dashboards(vllm_version).items():
        out.append({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": uid + "-dashboard", "namespace": namespace,
                                 "labels": dict(labels, **MANAGED_LABELS, **{"app.kubernetes.io/component": "grafana-dashboard"}),
                                 "annotations": {"llmops.io/vllm-version": vllm_version}},
                    "data": {uid + ".json": json.dumps(board, indent=1, sort_keys=True)}})
    return out


# ------------------------------------------------------------------ reading a dashboard back (tests, docs)
_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{")
_LABEL_VALUES = re.compile(r"label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)")


def queries(board):
    """(panel title, refId, expr) of every panel target and (variable name, '', query) of every variable."""
    out = [(p["title"], t["refId"], t["expr"]) for p in board["panels"] for t in p.get("targets", [])]
    out += [("$" + v["name"], "", v["definition"]) for v in board["templating"]["list"] if v["type"] == "query"]
    return out


def metrics_in(expr):
    """Metric names an expression selects (every selector of ours carries braces)."""
    bare = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    return set(_SELECTOR.findall(bare)) | set(_LABEL_VALUES.findall(expr))
