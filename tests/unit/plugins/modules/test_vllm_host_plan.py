"""Run the real vllm_host_plan module as Ansible does (a process given an args file): read-only, problems returned."""

from __future__ import annotations

import os

from module_runner import ROOT, run_module

from ansible_collections.llmops.vllm_serving.plugins.module_utils._gpu import nvsmi

CONFIGS = os.path.join(ROOT, "tests", "fixtures", "model_configs")


def _facts():
    with open(os.path.join(ROOT, "tests", "fixtures", "h200", "nvidia-smi-q-x.xml"), encoding="utf-8") as fh:
        return {"gpus": nvsmi.parse_nvidia_smi_xml(fh.read())["gpus"]}


def _store(tmp_path, name):
    """A store laid out as model_store leaves it: <root>/<name>/releases/<r>/config.json and current -> releases/<r>."""
    release = tmp_path / "store" / name / "releases" / "20261203T120000Z"
    release.mkdir(parents=True)
    with open(os.path.join(CONFIGS, "Qwen--Qwen2.5-0.5B-Instruct", "config.json"), encoding="utf-8") as fh:
        (release / "config.json").write_text(fh.read())
    (tmp_path / "store" / name / "current").symlink_to("releases/20261203T120000Z")
    return str(tmp_path / "store")


def test_plans_a_store_model_sized_from_the_staged_config(tmp_path):
    root = _store(tmp_path, "qwen")
    args = {"models": [{"name": "qwen", "gpus": [0], "port": 8000}],
            "host": {"gpu_facts": _facts(), "store": {"qwen": {"exists": True, "islnk": True,
                                                               "lnk_target": "releases/20261203T120000Z", "config": True}}},
            "options": {"model_store": root}}
    res = run_module("vllm_host_plan", tmp_path, args, check_mode=True)
    assert res["changed"] is False and res["problems"] == [] and res["warnings_found"] == []
    spec = res["containers"][0]
    assert spec["mounts"][0]["source"] == root + "/qwen/releases/20261203T120000Z"
    assert spec["command"][spec["command"].index("--max-model-len") + 1] == "32768"  # from the staged config.json
    assert res["plans"][0]["sizing"]["max_model_len"] == 32768


def test_problems_are_returned_not_raised(tmp_path):
    args = {"models": [{"name": "qwen", "gpus": [0], "port": 8000}, {"name": "llama", "gpus": [0], "port": 8000}],
            "host": {"gpu_facts": _facts(), "store": {}}}
    res = run_module("vllm_host_plan", tmp_path, args)
    assert "failed" not in res and res["containers"] == []
    assert any("GPU 0 is already given to model qwen" in p for p in res["problems"])
    assert any("port 8000 is already claimed by model qwen" in p for p in res["problems"])


def test_absent_lists_only_our_containers(tmp_path):
    ours = {"Names": ["/vllm-qwen"], "Labels": {"app.kubernetes.io/managed-by": "llmops.vllm_serving",
                                                "app.kubernetes.io/instance": "vllm"}}
    res = run_module("vllm_host_plan", tmp_path, {"state": "absent", "host": {"containers": [ours, {"Names": ["/web"]}]}})
    assert res["remove"] == ["vllm-qwen"] and res["problems"] == []
