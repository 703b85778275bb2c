"""The sizing filters, through Ansible's own templating."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from ansible.errors import AnsibleError

from ansible_collections.llmops.vllm_serving.plugins.filter.sizing import FilterModule

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))


def cfg(name):
    with open(os.path.join(ROOT, "tests", "fixtures", "model_configs", name, "config.json"), encoding="utf-8") as handle:
        return json.load(handle)


FILTERS = FilterModule().filters()


@pytest.mark.parametrize("label,name", [("NVIDIA-H100-80GB-HBM3", "H100-80GB"), ("NVIDIA-L40S", "L40S"),
                                        ("NVIDIA-H200", "H200"), ("NVIDIA-A100-SXM4-40GB-MIG-1g.5gb", "A100-40GB")])
def test_gpu_catalog_name(label, name):
    assert FILTERS["gpu_catalog_name"](label) == name


def test_kv_bytes_and_tp():
    qwen = cfg("Qwen--Qwen2.5-7B-Instruct")
    assert FILTERS["vllm_kv_bytes_per_token"](qwen) == 57344
    assert FILTERS["vllm_kv_bytes_per_token"](qwen, tensor_parallel_size=4, kv_cache_dtype="fp8") == 7168
    assert FILTERS["vllm_valid_tp"](qwen) == [1, 2, 4]


def test_sizing_filter():
    out = FILTERS["vllm_sizing"](cfg("Qwen--Qwen3-8B"), gpu_model="RTX-5090", gpu_memory_utilization=0.92,
                                 max_model_len=32768, vllm_version="0.24.0")
    assert out["fits"] and 85000 < out["kv_cache_tokens"] < 93000  # a real 0.24.0 start printed 89,040


def test_errors_become_filter_errors():
    with pytest.raises(AnsibleError, match="gpu_catalog_name: gpu_model='TPU'"):
        FILTERS["gpu_catalog_name"]("TPU")


def test_through_ansible():
    """The filter as a playbook sees it: FQCN lookup through the collection path of ansible.cfg."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
    proc = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible"), "localhost", "-c", "local", "-m", "ansible.builtin.debug",
         "-e", "ansible_python_interpreter=" + sys.executable,
         "-a", "msg={{ 'NVIDIA-H100-80GB-HBM3' | llmops.vllm_serving.gpu_catalog_name }}"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert '"msg": "H100-80GB"' in proc.stdout


def test_gpu_total_gib():
    assert FILTERS["gpu_total_gib"](143771, "NVIDIA-H200") == 139.8
