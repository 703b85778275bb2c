"""The Grafana dashboards: valid JSON models (unique ids, panels inside the 24-column grid without overlap, every
query on the `datasource` variable, every variable a query uses defined), every metric a query reads is one that
vLLM of that release or dcgm-exporter really exports (histograms through _bucket, counters through rate), the
queries parse in the real promtool and return data on the exporters' series (`promtool test rules`), and the
ConfigMaps the Grafana sidecar reads."""

import json
import os
import re

import pytest
import yaml

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._monitoring import dashboards as d
from ansible_collections.llmops.vllm_serving.plugins.module_utils._monitoring import dcgm
from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import releases

from ..promtool_runner import needs_promtool
from ..promtool_runner import promtool as _promtool

RELEASES = ["0.6.0", "0.6.6", "0.7.3", "0.8.5", "0.9.1", "0.9.2", "0.10.2", "0.14.1", "0.15.0", "0.33.0"]
BUILTIN_VARS = {"__rate_interval", "__interval", "__range"}


def boards():
    yield from ((v, d.vllm_dashboard(v)) for v in RELEASES)
    yield "gpu", d.gpu_dashboard()


def exported_vllm(version):
    """Series names a vLLM release exposes for the metrics the table knows (histograms as their three series)."""
    names = set()
    for logical, name in releases.metric_names(version).items():
        kind = releases.METRIC_TYPES[logical]
        names |= {name + s for s in ("_bucket", "_sum", "_count")} if kind == "histogram" else {name}
    return names


def kinds_vllm(version):
    return {name: releases.METRIC_TYPES[logical] for logical, name in releases.metric_names(version).items()}


def substitute(expr):
    """The query Grafana sends: variables at their All value, $__rate_interval as 5m (Grafana makes it at least
    four scrape intervals; the test series are one sample a minute)."""
    return re.sub(r"\$(\w+)", lambda m: "5m" if m.group(1) in BUILTIN_VARS else ".*", expr)


@pytest.mark.parametrize("name, board", list(boards()), ids=lambda x: x if isinstance(x, str) else "")
def test_dashboard_structure(name, board):
    json.dumps(board)  # serialisable
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    cells = set()
    for p in board["panels"]:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["w"] > 0 and g["x"] + g["w"] <= 24, p["title"]
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & mine, "panel %r overlaps another" % p["title"]
        cells |= mine
        if p["type"] == "row":
            continue
        assert p["title"] and p["description"] and p["fieldConfig"]["defaults"]["unit"], p["title"]
        assert p["datasource"] == d.DATASOURCE and p["targets"]
        assert all(t["datasource"] == d.DATASOURCE for t in p["targets"])
        assert len({t["refId"] for t in p["targets"]}) == len(p["targets"])
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert all(v.get("datasource", d.DATASOURCE) == d.DATASOURCE for v in variables.values())
    for title, _ref, expr in d.queries(board):
        used = set(re.findall(r"\$(\w+)", expr)) - BUILTIN_VARS
        assert used <= set(variables), "%s uses undefined variables %s" % (title, used - set(variables))


@pytest.mark.parametrize("version", RELEASES)
def test_vllm_queries_read_only_what_that_release_exports(version):
    board, exported, kinds = d.vllm_dashboard(version), exported_vllm(version), kinds_vllm(version)
    seen = set()
    for title, _ref, expr in d.queries(board):
        used = d.metrics_in(expr)
        assert used, (title, expr)
        assert used <= exported, "%s (vLLM %s) reads %s, which that release does not export" % (
            title, version, sorted(used - exported))
        seen |= used
        for name in used:
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            if kinds.get(base) == "histogram":
                assert name.endswith("_bucket") and "histogram_quantile" in expr, (title, name)
            if kinds.get(name) == "counter":
                assert re.search(r"rate\(%s\{" % re.escape(name), expr), "%s: counter %s outside rate()" % (title, name)
    names = releases.metric_names(version)
    assert names["kv_cache_usage"] in seen and names["num_requests_waiting"] in seen
    assert names["time_to_first_token_seconds"] + "_bucket" in seen
    assert names["inter_token_latency_seconds"] + "_bucket" in seen


def test_names_follow_the_release():
    old, new = json.dumps(d.vllm_dashboard("0.8.5")), json.dumps(d.vllm_dashboard("0.33.0"))
    assert "vllm:gpu_cache_usage_perc" in old and "vllm:kv_cache_usage_perc" not in old
    assert "vllm:kv_cache_usage_perc" in new and "vllm:gpu_cache_usage_perc" not in new
    assert "vllm:inter_token_latency_seconds" in new and "time_per_output_token" not in new
    assert "vllm:gpu_prefix_cache_hit_rate" in json.dumps(d.vllm_dashboard("0.7.3"))
    with pytest.raises(LlmopsError, match="0.5.0"):
        d.vllm_dashboard("0.5.0")


def test_gpu_queries_read_only_default_dcgm_fields():
    board = d.gpu_dashboard()
    for title, _ref, expr in d.queries(board):
        used = d.metrics_in(expr)
        assert used and used <= set(dcgm.METRICS), (title, sorted(used - set(dcgm.METRICS)))
        assert "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL" not in expr  # not in dcgm-exporter's default list
    memory = [e for t, _r, e in d.queries(board) if "DCGM_FI_DEV_FB_FREE" in e]
    assert memory, "no memory panel"
    for expr in memory:  # used / (used + free), never used / free
        assert re.search(r"DCGM_FI_DEV_FB_USED\{[^}]*\} / \(DCGM_FI_DEV_FB_USED\{[^}]*\} \+ DCGM_FI_DEV_FB_FREE", expr), expr
    util = [p for p in board["panels"] if p["title"] == "GPU utilisation"][0]
    steps = [s["value"] for s in util["fieldConfig"]["defaults"]["thresholds"]["steps"]]
    assert steps == [None, *d.GPU_UTIL_BAND]


def test_configmaps_for_the_sidecar():
    maps = d.configmaps("monitoring", "0.33.0")
    assert [m["metadata"]["name"] for m in maps] == ["llmops-vllm-dashboard", "llmops-gpu-dashboard"]
    for cm in maps:
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert cm["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "llmops.vllm_serving"
        (key, text), = cm["data"].items()
        assert json.loads(text) == d.dashboards("0.33.0")[key[:-len(".json")]]
    site = d.configmaps("grafana", labels={"grafana.site/dashboard": "vllm"})
    assert "grafana_dashboard" not in site[0]["metadata"]["labels"]
    with pytest.raises(LlmopsError, match=r"dashboard label grafana_dashboard=1 is not a Kubernetes label"):
        d.configmaps("monitoring", labels={"grafana_dashboard": 1})
    with pytest.raises(LlmopsError, match=r"label bad key!="):
        d.configmaps("monitoring", labels={"bad key!": "1"})


def _rule_file(board):
    rules = [{"record": "llmops:panel_%d" % i, "expr": substitute(e)} for i, (_t, _r, e) in enumerate(d.queries(board))
             if not e.startswith("label_values")]
    alerts = [{"alert": "Empty%d" % i, "expr": "absent(%s)" % r["expr"]} for i, r in enumerate(rules)]
    return {"groups": [{"name": "panels", "rules": rules}, {"name": "empty", "rules": alerts}]}


@needs_promtool
@pytest.mark.parametrize("name, board", list(boards()), ids=lambda x: x if isinstance(x, str) else "")
def test_every_query_parses_in_promtool(tmp_path, name, board):
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(_rule_file(board)))
    out = _promtool(tmp_path, "check", "rules", "rules.yaml")
    assert out.returncode == 0, out.stdout + out.stderr


def _vllm_series(version):
    sel = 'namespace="llm",pod="m-0",model_name="m",engine="0"'
    series = []
    for logical, name in releases.metric_names(version).items():
        kind = releases.METRIC_TYPES[logical]
        if kind == "histogram":
            for le, step in (("0.1", 2), ("1", 5), ("+Inf", 6)):
                series.append({"series": '%s_bucket{%s,le="%s"}' % (name, sel, le), "values": "0+%dx20" % step})
            series += [{"series": "%s_count{%s}" % (name, sel), "values": "0+6x20"},
                       {"series": "%s_sum{%s}" % (name, sel), "values": "0+3x20"}]
        elif logical == "request_success_total":
            series.append({"series": '%s{%s,finished_reason="stop"}' % (name, sel), "values": "0+10x20"})
        elif kind == "counter":
            hits = logical == "prefix_cache_hits_total"
            series.append({"series": "%s{%s}" % (name, sel), "values": "0+%dx20" % (30 if hits else 60)})
        else:
            series.append({"series": "%s{%s}" % (name, sel), "values": "0.5x20"})
    return series


def _dcgm_series():
    sel = 'Hostname="gpu-0",gpu="0",UUID="GPU-1",device="nvidia0",modelName="NVIDIA H200",namespace="llm",pod="m-0"'
    values = {"DCGM_FI_DEV_FB_USED": "100000x20", "DCGM_FI_DEV_FB_FREE": "40000x20"}
    return [{"series": "%s{%s}" % (n, sel), "values": values.get(n, "1x20")} for n in dcgm.METRICS]


@needs_promtool
@pytest.mark.parametrize("name, board", list(boards()), ids=lambda x: x if isinstance(x, str) else "")
def test_every_query_returns_data_on_the_exporters_series(tmp_path, name, board):
    """absent(query) never fires on the series the exporter exports; a few values checked exactly."""
    groups = _rule_file(board)
    series = _dcgm_series() if name == "gpu" else _vllm_series(name)
    exact = []
    for rule in groups["groups"][0]["rules"]:
        if "prefix_cache_hits" in rule["expr"]:
            exact.append({"expr": rule["record"], "eval_time": "10m",
                          "exp_samples": [{"labels": '%s{model_name="m"}' % rule["record"], "value": 0.5}]})
        if "DCGM_FI_DEV_FB_FREE" in rule["expr"]:
            exact.append({"expr": rule["record"], "eval_time": "10m",
                          "exp_samples": [{"labels": '%s{Hostname="gpu-0",gpu="0"}' % rule["record"],
                                           "value": 100000 / 140000}]})
    tests = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m",
             "tests": [{"interval": "1m", "input_series": series,
                        "alert_rule_test": [{"alertname": a["alert"], "eval_time": "10m", "exp_alerts": []}
                                            for a in groups["groups"][1]["rules"]],
                        "promql_expr_test": exact}]}
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(groups))
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests))
    out = _promtool(tmp_path, "test", "rules", "tests.yaml")
    assert out.returncode == 0, out.stdout + out.stderr
    if name == "gpu" or releases.parse_version(name) >= (0, 8, 0):  # V1's prefix counters, or the GPU memory share
        assert exact, "no exact check for %s" % name


def test_layout_pictures_in_the_docs_are_current():
    import importlib.util
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", ".."))
    spec = importlib.util.spec_from_file_location("dashboard_layout", os.path.join(root, "hack", "dashboard_layout.py"))
    layout = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(layout)
    for path, text in layout.pictures().items():
        assert os.path.exists(path), "%s missing: run hack/dashboard_layout.py" % path
        with open(path) as handle:
            assert handle.read() == text, "%s is out of date: run hack/dashboard_layout.py" % path
        assert "<svg" in text and text.count("<rect") >= 8
