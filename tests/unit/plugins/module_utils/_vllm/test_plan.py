# -*- coding: utf-8 -*-
"""Deployment plan: placement on the bed's nodes, GPUs = TP, resources and thresholds from sizing.

Sizing/parallel inputs are dicts in the vllm_sizing / vllm_parallel result shape (DESIGN.md contract);
the numbers are illustrative, the plan's arithmetic on them is what is pinned.
"""

import pytest

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import plan


def _node(name, product, gpus, taint=True, unschedulable=False):
    return {
        "metadata": {"name": name, "labels": {"nvidia.com/gpu.product": product} if product else {}},
        "spec": {"taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}] if taint else [],
                 "unschedulable": unschedulable},
        "status": {"allocatable": {"nvidia.com/gpu": str(gpus)} if gpus else {}},
    }


BED = [_node("gpu-h100-0", "NVIDIA-H100-80GB-HBM3", 8), _node("gpu-h100-1", "NVIDIA-H100-80GB-HBM3", 8),
       _node("gpu-l40s-0", "NVIDIA-L40S", 4), _node("cpu-0", None, 0, taint=False)]
TOL = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
OPTS = {"vllm_version": "0.33.0", "tolerations": TOL, "instance": "vllm", "load_gib_per_s": 1.0,
        "startup_overhead_s": 180, "probe_period_s": 10, "typical_request_tokens": 2048, "waiting_ratio": 0.1}
# weights_gib is per GPU: 15 GiB of an 8B bf16 model over TP 1.
SIZING = {"fits": True, "weights_gib": 15.0, "kv_cache_gib": 50.0, "kv_cache_tokens": 409600,
          "max_concurrency": 3.1, "kv_bytes_per_token": 131072, "reasons": [],
          "recommendations": {"max_model_len": 131072, "max_num_seqs": 256, "tensor_parallel_sizes": [1, 2, 4, 8],
                              "pod_memory_limit": "40Gi", "shm_size": "8Gi"}}
PARALLEL = {"valid": True, "reasons": [], "valid_tensor_parallel_sizes": [1, 2, 4, 8], "multi_node": False}


def _model(**kw):
    base = {"name": "llama-8b", "model": "/models/llama-8b", "model_pvc": "models", "gpu_product": "NVIDIA-H100-80GB-HBM3",
            "tensor_parallel_size": 1, "replicas": 2, "max_model_len": 8192}
    base.update(kw)
    return base


def _plan(models, sizings=None, parallels=None, pods=None, canary=None, **opts):
    options = dict(OPTS, **opts)
    return plan.plan_all(models, sizings or [SIZING] * len(models), parallels or [PARALLEL] * len(models),
                         BED, options, pods or [], canary)


def test_plan_single_model_numbers():
    result = _plan([_model(tensor_parallel_size=2)])
    assert result["problems"] == []
    p = result["plans"][0]
    assert p["gpus_per_pod"] == 2 and p["pods_per_group"] == 1 and not p["multi_node"]
    assert p["nodes"] == ["gpu-h100-0", "gpu-h100-1"]
    assert p["image"] == "vllm/vllm-openai:v0.33.0"
    assert p["memory_limit"] == "40Gi" and p["shm_size"] == "8Gi"
    # load: 15 GiB x TP 2 at 1 GiB/s + 180 s = 210 s; x1.5 / 10 s period = 31.5 -> 32
    assert p["startup_failure_threshold"] == 32 and p["startup_budget_s"] == 320
    # capacity: min(max_num_seqs 256, 409600 KV tokens // min(8192, 2048)) = 200 ; waiting 10% -> 20
    assert p["capacity"] == 200 and p["autoscaling"]["waiting_target"] == 20
    assert p["alerts"]["waiting"] == 200
    assert p["metrics"]["kv_cache_usage"] == "vllm:kv_cache_usage_perc"
    assert "--tensor-parallel-size" in p["args"] and p["args"][p["args"].index("--tensor-parallel-size") + 1] == "2"


def test_plan_uses_sizing_max_model_len_when_not_pinned():
    model = _model()
    del model["max_model_len"]
    p = _plan([model])["plans"][0]
    assert p["args"][p["args"].index("--max-model-len") + 1] == "131072"


def test_old_release_metric_names_in_plan():
    p = _plan([_model()], vllm_version="0.8.5")["plans"][0]
    assert p["metrics"]["kv_cache_usage"] == "vllm:gpu_cache_usage_perc"
    assert p["image"] == "vllm/vllm-openai:v0.8.5"


def test_does_not_fit_reports_sizing_reasons():
    bad = dict(SIZING, fits=False, reasons=["model weights 131.4 GiB exceed the 44.9 GiB usable per GPU"])
    result = _plan([_model(gpu_product="NVIDIA-L40S", replicas=1)], sizings=[bad])
    assert len(result["problems"]) == 1
    assert "does not fit NVIDIA-L40S" in result["problems"][0]
    assert "131.4 GiB" in result["problems"][0]


def test_invalid_tp_reports_parallel_reasons():
    par = {"valid": False, "reasons": ["Total number of attention heads (32) must be divisible by tensor parallel size (3)."],
           "valid_tensor_parallel_sizes": [1, 2, 4, 8]}
    result = _plan([_model(tensor_parallel_size=3)], parallels=[par])
    assert any("divisible by tensor parallel size (3)" in p and "[1, 2, 4, 8]" in p for p in result["problems"])


def test_capacity_counts_other_pods_and_earlier_models():
    # 2 x TP8 fills both H100 nodes; a second model on H100 has no room left.
    result = _plan([_model(name="big", tensor_parallel_size=8, replicas=2), _model(name="small", replicas=1)])
    assert len(result["problems"]) == 1 and result["problems"][0].startswith("model small: needs 1 pod(s)")
    # a foreign pod holding 4 GPUs on the L40S node leaves no room for a TP4 replica there
    foreign = {"metadata": {"name": "x", "labels": {}}, "spec": {"nodeName": "gpu-l40s-0", "containers": [
        {"resources": {"limits": {"nvidia.com/gpu": "4"}}}]}, "status": {"phase": "Running"}}
    result = _plan([_model(gpu_product="NVIDIA-L40S", tensor_parallel_size=4, replicas=1)], pods=[foreign])
    assert "room for 0" in result["problems"][0]
    # our own stable pods are replaced in place: they do not count
    ours = {"metadata": {"name": "y", "labels": {"app.kubernetes.io/instance": "vllm", "llmops.io/track": "stable"}},
            "spec": foreign["spec"], "status": foreign["status"]}
    assert _plan([_model(gpu_product="NVIDIA-L40S", tensor_parallel_size=4, replicas=1)], pods=[ours])["problems"] == []


def test_unknown_product_and_untolerated_taint():
    result = _plan([_model(gpu_product="NVIDIA-A100-SXM4-80GB")])
    assert "no schedulable node has gpu_product='NVIDIA-A100-SXM4-80GB'" in result["problems"][0]
    assert "NVIDIA-H100-80GB-HBM3" in result["problems"][0]
    result = _plan([_model()], tolerations=[])
    assert "with tolerated taints" in result["problems"][0]


def test_multi_node_tp_pp_uses_groups():
    result = _plan([_model(tensor_parallel_size=8, pipeline_parallel_size=2, replicas=1)])
    assert result["problems"] == []
    p = result["plans"][0]
    assert p["multi_node"] and p["pods_per_group"] == 2 and p["gpus_per_pod"] == 8
    assert "--distributed-executor-backend" in p["args"] and "ray" in p["args"]
    result = _plan([_model(tensor_parallel_size=8, pipeline_parallel_size=2, replicas=1,
                           autoscaling={"kind": "hpa", "max_replicas": 2})])
    assert any("multi-node LeaderWorkerSet" in x for x in result["problems"])


def test_autoscaling_checks():
    result = _plan([_model(autoscaling={"kind": "both"})])
    assert "never both" in result["problems"][0]
    result = _plan([_model(autoscaling={"kind": "hpa", "min_replicas": 0})])
    assert "scale-to-zero needs autoscaling.kind: keda" in result["problems"][0]
    keda = {"kind": "keda", "min_replicas": 0, "max_replicas": 3}
    result = _plan([_model(tensor_parallel_size=8, replicas=1, autoscaling=keda)])
    assert result["problems"] == []
    assert "max_replicas=3 needs 3 pod(s) of 8 GPUs" in result["warnings"][0]
    p = _plan([_model(autoscaling={"kind": "keda", "min_replicas": 0, "max_replicas": 4})])["plans"][0]
    assert p["autoscaling"]["queries"]["waiting"] == 'sum(vllm:num_requests_waiting{model_name="llama-8b"})'


def test_duplicate_and_bad_names():
    assert "used more than once" in _plan([_model(), _model(replicas=0)])["problems"][0]
    problems = _plan([_model(name="Llama_8B")])["problems"]
    assert "not usable for Kubernetes object names" in problems[0] and "'llama-8b'" in problems[0]
    with pytest.raises(LlmopsError):
        plan.check_name("a" * 41)


def test_canary_needs_its_own_gpus():
    canary = {"model": _model(name="llama-8b", tensor_parallel_size=8, replicas=1), "sizing": SIZING,
              "parallel": PARALLEL}
    result = _plan([_model(tensor_parallel_size=8, replicas=1)], canary=canary)
    assert result["problems"] == [] and result["canary"]["gpus_per_pod"] == 8
    stable = {"metadata": {"name": "s", "labels": {"app.kubernetes.io/instance": "vllm", "llmops.io/track": "stable",
                                                   "llmops.io/model": "llama-8b"}},
              "spec": {"nodeName": "gpu-h100-0", "containers": [{"resources": {"limits": {"nvidia.com/gpu": "8"}}}]},
              "status": {"phase": "Running"}}
    pods = [dict(stable, spec=dict(stable["spec"], nodeName="gpu-h100-0")),
            dict(stable, spec=dict(stable["spec"], nodeName="gpu-h100-1"))]
    result = _plan([_model(tensor_parallel_size=8, replicas=2)], canary=canary, pods=pods)
    assert len(result["problems"]) == 1 and "(canary): needs 1 pod(s)" in result["problems"][0]


@pytest.mark.parametrize("value, nbytes", [("64Gi", 64 * 2 ** 30), ("500M", 500 * 10 ** 6), (40, 40 * 2 ** 30),
                                           (68719476736, 68719476736), ("1.5Gi", int(1.5 * 2 ** 30))])
def test_quantity_bytes(value, nbytes):
    assert plan.quantity_bytes(value) == nbytes


def test_quantity_rejects():
    with pytest.raises(LlmopsError, match="not a Kubernetes quantity"):
        plan.quantity_bytes("lots")


def test_module_failures_become_problems():
    failed = {"failed": False, "failed_when_result": False, "msg": "tensor_parallel_size=3 does not divide num_attention_heads=32; valid: [1, 2, 4, 8]"}
    result = _plan([_model(tensor_parallel_size=3)], sizings=[failed], parallels=[dict(failed)])
    assert result["problems"][0] == "model llama-8b: vllm_sizing refused it: " + failed["msg"]
    assert result["problems"][1] == "model llama-8b: vllm_parallel refused it: " + failed["msg"]


def test_promote_counts_the_promoted_canary_as_free():
    def pod(node, track, gpus):
        return {"metadata": {"name": node + track, "labels": {"app.kubernetes.io/instance": "vllm",
                                                              "llmops.io/track": track, "llmops.io/model": "llama-8b"}},
                "spec": {"nodeName": node, "containers": [{"resources": {"limits": {"nvidia.com/gpu": str(gpus)}}}]},
                "status": {"phase": "Running"}}
    pods = [pod("gpu-l40s-0", "stable", 2), pod("gpu-l40s-0", "canary", 2)]
    model = _model(gpu_product="NVIDIA-L40S", tensor_parallel_size=4, replicas=1)
    # without promote the canary's 2 GPUs are taken: a TP4 pod does not fit the 4-GPU node
    assert "room for 0" in _plan([model], pods=pods)["problems"][0]
    assert _plan([model], pods=pods, promote_model="llama-8b")["problems"] == []


# ---------------------------------------------------------------- issue 14: weights, hosts, MIG, messages
def _weights(**kw):
    return plan.weights_source(dict({"name": "m1"}, **kw), {"model_mount": "/models"})


def test_weights_from_the_store_when_no_model_is_given():
    weights, problems = _weights(model_pvc="store")
    assert problems == [] and weights["source"] == "store" and weights["offline"] is True
    # model_store's layout: <store>/<model>/current -> releases/<timestamp> (docs/model_store.md)
    assert weights["model"] == "/models/m1/current" and weights["pvc"] == "store"


def test_weights_path_outside_the_mount_is_refused():
    _w, problems = _weights(model="/data/m1", model_pvc="store")
    assert len(problems) == 1 and "model=/data/m1 is a path in the container" in problems[0]
    assert "not above that path" in problems[0]
    _w, problems = _weights(model="/models/m1")
    assert "no model PVC is configured" in problems[0]


def test_hub_model_is_online_and_does_not_mount_the_store():
    weights, problems = _weights(model="meta-llama/Llama-3.1-8B-Instruct", model_pvc="store")
    assert problems == [] and weights["source"] == "hub" and weights["offline"] is False
    assert weights["pvc"] is None and weights["hf_cache_pvc"] is None
    assert "downloaded from the Hugging Face Hub into an emptyDir" in weights["warnings"][0]
    weights, _p = _weights(model="meta-llama/Llama-3.1-8B-Instruct", hf_cache_pvc="hf")
    assert weights["hf_cache_pvc"] == "hf" and weights["warnings"] == []


def test_hub_model_on_an_offline_site_is_refused():
    _w, problems = plan.weights_source({"name": "m1", "model": "org/x"}, {"model_mount": "/models", "offline": True})
    assert "is a Hugging Face id, but vllm_deploy_offline is true" in problems[0]


def test_no_model_and_no_pvc_is_refused():
    _w, problems = _weights()
    assert "no `model` and no model PVC" in problems[0]


def test_rendered_pod_environment_follows_the_weights_source():
    result = _plan([_model(name="hub", model="meta-llama/Llama-3.1-8B-Instruct", model_pvc="models", replicas=1),
                    _model(name="store", model=None, replicas=1)])
    hub, store = result["plans"]
    assert hub["weights"]["offline"] is False and hub["model_pvc"] is None
    assert hub["args"][0] == "meta-llama/Llama-3.1-8B-Instruct"
    assert store["weights"]["offline"] is True and store["args"][0] == "/models/store/current"


@pytest.mark.parametrize("host", ["bad host!", "Llama.example.com", "llama.example.com:443", "10.0.0.1", "a..b"])
def test_bad_ingress_hosts_are_refused_in_the_core(host):
    result = _plan([_model(ingress_host=host)])
    assert any("ingress_host=%r is not a host name" % host in p for p in result["problems"])


@pytest.mark.parametrize("host", ["llama.example.com", "*.models.example.com", "llama"])
def test_good_ingress_hosts_pass(host):
    assert _plan([_model(ingress_host=host)])["problems"] == []


def test_mig_from_product_name_and_labels():
    nodes = plan.summarize_nodes([
        _node("a100-mig", "NVIDIA-A100-SXM4-40GB-MIG-3g.20gb", 2),
        dict(_node("a100-mixed", "NVIDIA-A100-SXM4-80GB", 0),
             metadata={"name": "a100-mixed", "labels": {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB",
                                                        "nvidia.com/mig.strategy": "mixed",
                                                        "nvidia.com/mig-3g.40gb.count": "2"}}),
        _node("h100", "NVIDIA-H100-80GB-HBM3", 8)])
    assert plan.is_mig(nodes, "NVIDIA-A100-SXM4-40GB-MIG-3g.20gb")
    assert plan.is_mig(nodes, "NVIDIA-A100-SXM4-80GB")
    assert not plan.is_mig(nodes, "NVIDIA-H100-80GB-HBM3")


def test_no_false_max_model_len_problem_when_nothing_fits():
    misfit = dict(SIZING, fits=False, reasons=["Model weights need 131.45 GiB per GPU but the GPU has 44.42 GiB"],
                  recommendations=dict(SIZING["recommendations"], max_model_len=0))
    problems = _plan([_model(max_model_len=None)], sizings=[misfit])["problems"]
    assert len(problems) == 1 and "does not fit" in problems[0]
    assert not any("max_model_len=0" in p for p in problems)


def test_max_model_len_minus_one_means_the_longest_that_fits():
    p = _plan([_model(max_model_len=-1)])["plans"][0]
    assert p["args"][p["args"].index("--max-model-len") + 1] == "131072"


def test_messages_name_the_model_once():
    problems = _plan([_model(gpu_memory_utilization=1.5)])["problems"]
    assert problems == ["model llama-8b: gpu_memory_utilization=1.5 must be in (0, 1], e.g. 0.9"]


def test_smoke_test_per_model_overrides_the_role_default():
    result = _plan([_model(name="a"), _model(name="b", smoke_test=False)], smoke_test=True)
    assert [p["smoke_test"] for p in result["plans"]] == [True, False]
    result = _plan([_model(name="a"), _model(name="b", smoke_test=True)], smoke_test=False)
    assert [p["smoke_test"] for p in result["plans"]] == [False, True]
