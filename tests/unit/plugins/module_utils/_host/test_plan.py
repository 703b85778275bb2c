"""vllm_host core: models + host facts (the real H200 nvidia-smi capture) -> container specs or problems."""

import copy
import json
import os

import pytest
import yaml

from ansible_collections.llmops.vllm_serving.plugins.module_utils._gpu import nvsmi
from ansible_collections.llmops.vllm_serving.plugins.module_utils._host import plan
from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import releases

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), *[".."] * 5))
CONFIGS = os.path.join(ROOT, "tests", "fixtures", "model_configs")
QWEN_05B = os.path.join(CONFIGS, "Qwen--Qwen2.5-0.5B-Instruct")
LLAMA_70B = os.path.join(CONFIGS, "meta-llama--Llama-3.3-70B-Instruct")
LLAMA_8B = os.path.join(CONFIGS, "meta-llama--Llama-3.1-8B-Instruct")


def h200_facts(count=1):
    """gpu_facts' `gpus` parsed from the real H200 capture; GPUs 1.. are copies with their own index and UUID
    (the capture host had one GPU)."""
    with open(os.path.join(ROOT, "tests", "fixtures", "h200", "nvidia-smi-q-x.xml"), encoding="utf-8") as fh:
        gpu = nvsmi.parse_nvidia_smi_xml(fh.read())["gpus"][0]
    out = []
    for i in range(count):
        g = copy.deepcopy(gpu)
        if i:
            g.update(index=i, uuid="GPU-00000000-0000-0000-0000-00000000000%d" % i)
        out.append(g)
    return {"gpus": out}


STORE = {"exists": True, "islnk": True, "lnk_target": "releases/20261203T120000Z", "config": True}


def host(count=2, store_names=("qwen", "llama"), containers=None):
    return {"gpu_facts": h200_facts(count), "store": {n: dict(STORE) for n in store_names},
            "containers": containers or []}


def qwen(**kw):
    entry = {"name": "qwen", "gpus": [0], "port": 8000, "model_config_path": QWEN_05B}
    entry.update(kw)
    return entry


def test_the_capture_is_an_h200():
    gpu = h200_facts()["gpus"][0]
    assert (gpu["index"], gpu["name"], gpu["memory_total_mib"]) == (0, "NVIDIA H200", 143771)


def test_one_model_from_the_store_renders_the_docker_run_equivalent():
    out = plan.plan_host([qwen()], host(), {})
    assert out["problems"] == []
    spec = out["containers"][0]
    assert spec["name"] == "vllm-qwen"
    assert spec["image"] == "docker.io/vllm/vllm-openai:v%s" % releases.DEFAULT_VERSION
    assert spec["entrypoint"] == ["vllm", "serve"]
    assert spec["command"][:5] == ["/models/qwen/current", "--host", "0.0.0.0", "--port", "8000"]
    assert spec["command"][spec["command"].index("--tensor-parallel-size") + 1] == "1"
    assert spec["command"][spec["command"].index("--served-model-name") + 1] == "qwen"
    # --gpus 'device=0'
    assert spec["device_requests"] == [{"driver": "nvidia", "device_ids": ["0"], "capabilities": [["gpu"]]}]
    # the release current points at, read-only, where vLLM is told to look
    assert spec["mounts"] == [{"type": "bind", "source": "/srv/models/qwen/releases/20261203T120000Z",
                               "target": "/models/qwen/current", "read_only": True}]
    assert spec["published_ports"] == ["0.0.0.0:8000:8000"]
    assert spec["shm_size"] == "1G"
    assert spec["restart_policy"] == "unless-stopped" and spec["stop_timeout"] == 120
    assert spec["healthcheck"]["test"][0] == "CMD-SHELL" and "/health" in spec["healthcheck"]["test"][1]
    assert spec["log_driver"] == "json-file" and spec["log_options"] == {"max-size": "100m", "max-file": "5"}
    assert spec["env"]["HF_HUB_OFFLINE"] == "1"
    labels = spec["labels"]
    assert labels[plan.LABEL_MANAGED] == "llmops.vllm_serving" and labels[plan.LABEL_INSTANCE] == "vllm"
    assert labels[plan.LABEL_MODEL] == "qwen" and labels[plan.LABEL_GPUS] == "0"
    assert labels["llmops.io/model-release"] == "20261203T120000Z"
    assert out["plans"][0]["url"] == "http://127.0.0.1:8000"


def test_the_args_are_vllm_deploys():
    """Same settings -> the same `vllm serve` arguments as the Kubernetes role's (one renderer: _vllm/args.py)."""
    from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import args as vargs
    spec = plan.plan_host([qwen(max_model_len=4096, max_num_seqs=64)], host(), {})["containers"][0]
    assert spec["command"] == vargs.render_serve_args(
        {"model": "/models/qwen/current", "served_model_name": "qwen", "tensor_parallel_size": 1,
         "max_model_len": 4096, "max_num_seqs": 64, "gpu_memory_utilization": 0.9}, releases.DEFAULT_VERSION)


@pytest.mark.parametrize("mode, expected", [
    ("device_requests", [{"driver": "nvidia", "device_ids": ["0", "1"], "capabilities": [["gpu"]]}]),
    ("cdi", [{"driver": "cdi", "device_ids": ["nvidia.com/gpu=0", "nvidia.com/gpu=1"]}]),
    ("none", []),
])
def test_gpu_request_modes(mode, expected):
    out = plan.plan_host([qwen(gpus=[0, 1], model_config_path=LLAMA_8B)], host(), {"gpu_request": mode})
    assert out["problems"] == []
    assert out["containers"][0]["device_requests"] == expected
    assert out["containers"][0]["labels"][plan.LABEL_GPUS] == "0,1"
    assert bool(out["warnings"]) == (mode == "none")


def test_tensor_parallel_size_is_the_number_of_gpus():
    out = plan.plan_host([qwen(gpus=[0, 1], model_config_path=LLAMA_8B)], host(), {})
    spec = out["containers"][0]
    assert spec["command"][spec["command"].index("--tensor-parallel-size") + 1] == "2"
    assert spec["shm_size"] == "4G"  # sizing's recommendation for a world of 2


def test_gpus_by_uuid():
    uuid = h200_facts()["gpus"][0]["uuid"]
    out = plan.plan_host([qwen(gpus=[uuid])], host(), {})
    assert out["problems"] == [] and out["containers"][0]["device_requests"][0]["device_ids"] == ["0"]


def test_two_models_on_distinct_gpus_and_ports():
    out = plan.plan_host([qwen(), {"name": "llama", "gpus": [1], "port": 8001, "model_config_path": LLAMA_8B}], host(), {})
    assert out["problems"] == []
    assert [c["name"] for c in out["containers"]] == ["vllm-qwen", "vllm-llama"]
    assert [c["published_ports"] for c in out["containers"]] == [["0.0.0.0:8000:8000"], ["0.0.0.0:8001:8000"]]


@pytest.mark.parametrize("second, expected", [
    ({"gpus": [0], "port": 8001}, "model llama: GPU 0 is already given to model qwen"),
    ({"gpus": [1], "port": 8000}, "model llama: port 8000 is already claimed by model qwen; give each model its own `port`, e.g. 8001"),
    ({"gpus": [7], "port": 8001}, "model llama: GPU 7 is not on this host; its GPUs (nvidia-smi index): 0 (NVIDIA H200, 143771 MiB)"),
    ({"gpus": [1, 1], "port": 8001}, "model llama: GPU 1 is listed twice"),
    ({"gpus": [], "port": 8001}, "model llama: `gpus` is required"),
])
def test_conflicts_refused_before_anything(second, expected):
    entry = dict({"name": "llama", "model_config_path": LLAMA_8B}, **second)
    out = plan.plan_host([qwen(), entry], host(), {})
    assert out["containers"] == [] and out["remove"] == []
    assert any(p.startswith(expected) for p in out["problems"]), out["problems"]


def test_a_model_too_big_for_the_gpu_is_refused_in_vllms_words():
    out = plan.plan_host([{"name": "llama", "gpus": [0], "model_config_path": LLAMA_70B, "max_model_len": 131072}],
                         host(), {})
    assert out["containers"] == []
    (problem,) = out["problems"]
    assert problem.startswith("model llama does not fit 1 x NVIDIA H200 (GPUs 0) with tensor_parallel_size=1: ")
    assert "No available memory for the cache blocks" in problem
    assert '"tensor_parallel_sizes": [2, 4, 8]' in problem


def test_an_unpinned_context_is_fitted_like_vllm_deploy():
    """70B bf16 on 2 x H200: the weights fit, the context is pinned to what the KV cache holds (or the model's)."""
    out = plan.plan_host([{"name": "llama", "gpus": [0, 1], "model_config_path": LLAMA_70B}], host(), {})
    assert out["problems"] == []
    args = out["containers"][0]["command"]
    assert int(args[args.index("--max-model-len") + 1]) == out["plans"][0]["sizing"]["max_model_len"]


def test_parallel_rules_refuse_a_tp_the_heads_do_not_divide():
    out = plan.plan_host([qwen(gpus=[0, 1, 2])], host(3), {})
    assert any("must be divisible by tensor parallel size (3)" in p for p in out["problems"]), out["problems"]


@pytest.mark.parametrize("key", ["tensor_parallel_size", "replicas", "gpu_product", "model_pvc"])
def test_kubernetes_keys_say_what_to_do_on_a_host(key):
    out = plan.plan_host([qwen(**{key: 2})], host(), {})
    assert any(p.startswith("model qwen: `%s` is not a vllm_host key: " % key) for p in out["problems"])


def test_unknown_key_names_the_closest():
    out = plan.plan_host([qwen(max_model_lenn=4096)], host(), {})
    assert out["problems"] == ["model qwen: unknown key `max_model_lenn`; did you mean `max_model_len`?"]


def test_unknown_option_refused():
    out = plan.plan_host([qwen()], host(), {"gpu_requests": "none"})
    assert out["problems"][0].startswith("unknown vllm_host option(s) gpu_requests")


@pytest.mark.parametrize("opts, expected", [
    ({"gpu_request": "all"}, "vllm_host_gpu_request='all' must be one of device_requests, cdi, none"),
    ({"restart_policy": "sometimes"}, "vllm_host_restart_policy='sometimes' must be one of"),
    ({"vllm_version": "0.1.0"}, "vllm_host_vllm_version: "),
    ({"port": 70000}, "vllm_host_port=70000 must be a TCP port"),
    ({"model_store": "models"}, "vllm_host_model_store='models' must be an absolute path"),
])
def test_bad_options(opts, expected):
    out = plan.plan_host([qwen()], host(), opts)
    assert out["containers"] == [] and out["problems"][0].startswith(expected), out["problems"]


def test_extra_args_checked_against_the_release():
    out = plan.plan_host([qwen(extra_args=["--num-scheduler-steps", "8"])], host(), {})
    assert out["containers"] == [] and out["problems"][0].startswith("model qwen: ")


def test_a_model_not_staged_is_refused_with_the_way_out():
    out = plan.plan_host([qwen()], host(store_names=()), {})
    assert out["problems"] == [
        "model qwen: /srv/models/qwen/current does not exist on this host, so the container would have no weights "
        "(vLLM: 'Invalid repository ID or local directory specified'). Stage it first with the model_store role "
        "(model_store_root=/srv/models, model_store_model=qwen), or set `model` to a Hugging Face id"]


def test_a_path_outside_the_mounted_release_is_refused():
    out = plan.plan_host([qwen(model="/models/other/current")], host(), {})
    assert "only /models/qwen/current" in out["problems"][0]


def test_hub_model_refused_offline_and_mounted_cache_online():
    out = plan.plan_host([qwen(model="Qwen/Qwen2.5-0.5B-Instruct")], host(), {})
    assert "vllm_host_offline is true" in out["problems"][0]
    out = plan.plan_host([qwen(model="Qwen/Qwen2.5-0.5B-Instruct")], host(),
                         {"offline": False, "hf_cache_dir": "/srv/hf", "hf_token_file": "/etc/llmops/hf-token"})
    spec = out["containers"][0]
    assert spec["command"][0] == "Qwen/Qwen2.5-0.5B-Instruct"
    assert {m["target"] for m in spec["mounts"]} == {plan.HF_HOME, plan.HF_TOKEN_PATH}
    assert spec["env"]["HF_TOKEN_PATH"] == plan.HF_TOKEN_PATH and "HF_HUB_OFFLINE" not in spec["env"]


def test_mig_gpus_refused():
    facts = h200_facts(1)
    facts["gpus"][0]["mig_mode_current"] = True
    out = plan.plan_host([qwen()], {"gpu_facts": facts, "store": {"qwen": STORE}}, {})
    assert out["problems"][0].startswith("model qwen: MIG is enabled on GPU(s) 0")


def test_no_gpus_on_the_host():
    out = plan.plan_host([qwen()], {"gpu_facts": {"gpus": [], "nvidia_smi": {"error": "NVIDIA-SMI has failed"}},
                                    "store": {"qwen": STORE}}, {})
    assert out["problems"] == ["this host reports no NVIDIA GPU (gpu_facts found none: NVIDIA-SMI has failed); vllm_host "
                               "needs the driver loaded and nvidia-smi working - run the gpu_node role or its preflight first"]


OURS = {"Names": ["/vllm-old"], "Labels": {plan.LABEL_MANAGED: plan.MANAGED_BY, plan.LABEL_INSTANCE: "vllm"}, "Ports": []}
FOREIGN = {"Names": ["/web"], "Labels": {}, "Ports": [{"PrivatePort": 80, "PublicPort": 8000, "Type": "tcp"}]}
OTHER_INSTANCE = {"Names": ["/lab-x"], "Labels": {plan.LABEL_MANAGED: plan.MANAGED_BY, plan.LABEL_INSTANCE: "lab"}}


def test_a_port_published_by_a_foreign_container_is_refused():
    out = plan.plan_host([qwen()], host(containers=[FOREIGN]), {})
    assert out["problems"] == ["model qwen: port 8000 is published by container web, which is not ours; pick another "
                               "`port` or stop that container"]


def test_our_containers_of_dropped_models_are_removed_and_only_ours():
    out = plan.plan_host([qwen(port=8001)], host(containers=[OURS, FOREIGN, OTHER_INSTANCE]), {})
    assert out["problems"] == [] and out["remove"] == ["vllm-old"]
    out = plan.plan_host([], host(containers=[OURS, FOREIGN, OTHER_INSTANCE]), {}, state="absent")
    assert out == {"containers": [], "remove": ["vllm-old"], "plans": [], "warnings": [], "problems": []}


def test_the_spec_label_follows_every_change():
    first = plan.plan_host([qwen()], host(), {})["containers"][0]["labels"][plan.LABEL_SPEC]
    again = plan.plan_host([qwen()], host(), {})["containers"][0]["labels"][plan.LABEL_SPEC]
    switched = host()
    switched["store"]["qwen"]["lnk_target"] = "releases/20261204T080000Z"
    moved = plan.plan_host([qwen()], switched, {})
    assert first == again
    assert moved["containers"][0]["labels"][plan.LABEL_SPEC] != first
    assert moved["containers"][0]["mounts"][0]["source"] == "/srv/models/qwen/releases/20261204T080000Z"


@pytest.mark.parametrize("ref, expected", [
    ("vllm/vllm-openai:v0.33.0", "docker.io/vllm/vllm-openai:v0.33.0"),
    ("ubuntu:24.04", "docker.io/library/ubuntu:24.04"),
    ("registry.example.com:5000/vllm/vllm-openai:v0.33.0", "registry.example.com:5000/vllm/vllm-openai:v0.33.0"),
    ("localhost/vllm:dev", "localhost/vllm:dev"),
])
def test_qualified_image(ref, expected):
    assert plan.qualified_image(ref) == expected


def test_role_defaults_are_the_cores():
    with open(os.path.join(ROOT, "roles", "vllm_host", "defaults", "main.yml"), encoding="utf-8") as fh:
        defaults = yaml.safe_load(fh)
    for key, value in plan.DEFAULTS.items():
        assert defaults["vllm_host_" + key] == value, key
    json.dumps(plan.DEFAULTS)


def test_a_gpu_held_by_another_instance_is_refused():
    labels = {plan.LABEL_MANAGED: plan.MANAGED_BY, plan.LABEL_INSTANCE: "lab", plan.LABEL_GPUS: "0,1"}
    lab = {"Names": ["/lab-qwen"], "State": "running", "Labels": labels}
    stopped = dict(lab, Names=["/old-qwen"], State="exited", Labels=dict(lab["Labels"], **{plan.LABEL_GPUS: "1"}))
    out = plan.plan_host([qwen()], host(containers=[lab]), {})
    assert out["problems"] == ["model qwen: GPU 0 is held by container lab-qwen (vllm_host_instance lab); give this "
                               "model another GPU, or remove that container (state: absent with its instance)"]
    assert plan.plan_host([qwen(gpus=[1])], host(containers=[stopped]), {})["problems"] == []
    # its own containers are replaced in place: their GPUs are free for this instance
    ours = dict(lab, Labels=dict(lab["Labels"], **{plan.LABEL_INSTANCE: "vllm"}), Names=["/vllm-qwen"])
    assert plan.plan_host([qwen()], host(containers=[ours]), {})["problems"] == []
