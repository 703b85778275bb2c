"""The vllm_deploy filters: plugin surface, errors as AnsibleFilterError, and one run through ansible."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.llmops.vllm_serving.plugins.filter.vllm_deploy import FilterModule

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
FILTERS = FilterModule().filters()


def test_filters_and_docs_exist():
    for name in FILTERS:
        assert os.path.exists(os.path.join(ROOT, "plugins", "filter", name + ".yml")), name


def test_release_filters():
    assert FILTERS["vllm_image"]("0.33.0") == "vllm/vllm-openai:v0.33.0"
    assert FILTERS["vllm_metric_names"]("0.8.5")["kv_cache_usage"] == "vllm:gpu_cache_usage_perc"
    assert FILTERS["vllm_check_extra_args"](["--enforce-eager"], "0.33.0") == ["--enforce-eager"]
    with pytest.raises(AnsibleFilterError, match="not accepted by vLLM 0.33.0"):
        FILTERS["vllm_check_extra_args"](["--num-scheduler-steps", "4"], "0.33.0")
    with pytest.raises(AnsibleFilterError, match="newer than the newest"):
        FILTERS["vllm_metric_names"]("1.0.0")


def test_gpus_per_node():
    nodes = [{"metadata": {"name": "a", "labels": {"nvidia.com/gpu.product": "NVIDIA-L40S"}},
              "status": {"allocatable": {"nvidia.com/gpu": "4"}}, "spec": {}},
             {"metadata": {"name": "b", "labels": {"nvidia.com/gpu.product": "NVIDIA-L40S"}},
              "status": {"allocatable": {"nvidia.com/gpu": "8"}}, "spec": {"unschedulable": True}}]
    assert FILTERS["vllm_deploy_gpus_per_node"](nodes, "NVIDIA-L40S") == 4
    assert FILTERS["vllm_deploy_gpus_per_node"](nodes, "NVIDIA-H200") == 0


def test_serve_args_through_ansible(tmp_path):
    playbook = tmp_path / "p.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.debug:\n"
        "        msg: \"{{ {'name': 'x', 'model': '/m', 'tensor_parallel_size': 2, 'extra_args': ['--enforce-eager']}"
        " | llmops.vllm_serving.vllm_serve_args('0.33.0') | join(' ') }}\"\n")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build", "collections"), ANSIBLE_NOCOLOR="1")
    out = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-c", "local", "-i",
                          "localhost,", "-e", "ansible_python_interpreter=" + sys.executable, str(playbook)],
                         capture_output=True, text=True, env=env, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "/m --host 0.0.0.0 --port 8000 --tensor-parallel-size 2 --enforce-eager" in out.stdout
