"""The end-of-run table: where each model runs, its parallelism and KV cache, endpoints, autoscaling bounds, and
what this run changed, read from real plans and a k8s_apply_set result."""

from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import manifests, summary

from . import test_manifests as tm


def _plans():
    return [tm._one(tensor_parallel_size=2, ingress_host="llm.example.com",
                    autoscaling={"kind": "keda", "min_replicas": 1, "max_replicas": 4}),
            tm._one(name="qwen", autoscaling={"kind": "hpa", "min_replicas": 1, "max_replicas": 3})]


def test_rows_from_plans_and_the_apply_result():
    plans = _plans()
    objects = [o for p in plans for o in manifests.render_model(p, {}, "stable")]
    applied = [{"api_version": o["apiVersion"], "kind": o["kind"], "namespace": o["metadata"].get("namespace", ""),
                "name": o["metadata"]["name"], "action": "unchanged"} for o in objects]
    applied[0]["action"] = "update"                                   # llama-8b's ConfigMap
    applied.append({"api_version": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "namespace": "llm",
                    "name": "llama-8b", "action": "delete"})           # its old autoscaler
    applied.append({"api_version": "apps/v1", "kind": "Deployment", "namespace": "llm", "name": "gone",
                    "action": "delete"})                               # a model no longer listed
    rows = {r["model"]: r for r in summary.rows(plans, "llm", objects, applied)}
    llama, qwen = rows["llama-8b"], rows["qwen"]
    assert llama["TP x PP"] == "2 x 1"
    assert llama["runs as (eligible nodes)"] == "%s x 2 GPU NVIDIA-H100-80GB-HBM3 (%s)" % (
        plans[0]["replicas"], ", ".join(plans[0]["nodes"][:3]) + (" +%d more" % (len(plans[0]["nodes"]) - 3)
                                                                  if len(plans[0]["nodes"]) > 3 else ""))
    assert llama["KV tokens/replica"] == "{:,}".format(plans[0]["sizing"]["kv_cache_tokens"])
    assert llama["concurrency"] == "%s at 8192 tokens" % plans[0]["sizing"]["max_concurrency"]
    assert llama["endpoints"] == "llama-8b.llm.svc:8000, https://llm.example.com"
    assert llama["autoscaling"] == "KEDA 1-4" and qwen["autoscaling"] == "HPA 1-3"
    assert llama["this run"] == "1 updated, 1 deleted"
    assert qwen["this run"] == "unchanged"
    text = summary.table(plans, "llm", objects, applied)
    assert text[0].split(" | ")[0].strip() == "model" and len(text) == 5
    assert text[-1] == "removed: 1 object(s) of models no longer listed"

    def bars(line):
        return [i for i in range(len(line)) if line.startswith(" | ", i)]
    assert bars(text[0]) == bars(text[2]) == bars(text[3]) and len(bars(text[0])) == len(summary.COLUMNS) - 1
    assert set(text[1]) == {"-", "+"}


def test_first_run_counts_creations_and_check_mode_has_no_result():
    plans = _plans()
    objects = [o for p in plans for o in manifests.render_model(p, {}, "stable")]
    applied = [{"kind": o["kind"], "namespace": o["metadata"].get("namespace", ""), "name": o["metadata"]["name"],
                "action": "create"} for o in objects]
    rows = summary.rows(plans, "llm", objects, applied)
    per_model = {p["name"]: sum(1 for o in objects if o["metadata"]["labels"]["llmops.io/model"] == p["name"]) for p in plans}
    assert [r["this run"] for r in rows] == ["%d created" % per_model[p["name"]] for p in plans]
    assert [r["this run"] for r in summary.rows(plans, "llm")] == ["-", "-"]
