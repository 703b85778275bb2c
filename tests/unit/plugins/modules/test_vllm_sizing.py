"""Run the real vllm_sizing module as Ansible does (a process with an args file), in normal and check mode."""

from __future__ import annotations

import json
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(HERE))))
CONFIGS = os.path.join(ROOT, "tests", "fixtures", "model_configs")


from module_runner import run_module  # noqa: E402


LLAMA = os.path.join(CONFIGS, "meta-llama--Llama-3.1-8B-Instruct")


def test_sizes_a_model_directory(tmp_path):
    res = run_module("vllm_sizing", tmp_path, {"model_path": LLAMA, "gpu_model": "NVIDIA-H100-80GB-HBM3",
                                               "max_model_len": 8192, "gpu_memory_utilization": 0.95,
                                               "vllm_version": "0.19.0"})
    assert "failed" not in res and res["changed"] is False
    # the real vLLM 0.19.0 startup of this exact configuration printed 476,016 tokens and 58.11x
    assert abs(res["kv_cache_tokens"] - 476016) / 476016 < 0.01
    assert res["fits"] is True and res["reasons"] == [] and res["weights_gib"] == 14.99
    assert res["details"]["gpu_model"] == "H100-80GB" and res["details"]["engine"] == "v1"


def test_check_mode_gives_the_same_answer(tmp_path):
    args = {"model_path": LLAMA, "gpu_model": "L4"}
    normal, check = run_module("vllm_sizing", tmp_path, args), run_module("vllm_sizing", tmp_path, args, check_mode=True)
    assert normal == check
    assert normal["fits"] is False and normal["reasons"][0].startswith("To serve at least one request")


def test_model_config_dict(tmp_path):
    with open(os.path.join(CONFIGS, "deepseek-ai--DeepSeek-V2-Lite-Chat", "config.json"), encoding="utf-8") as handle:
        cfg = json.load(handle)
    res = run_module("vllm_sizing", tmp_path, {"model_config": cfg, "gpu_memory_gib": 79.19, "max_model_len": 32768})
    assert res["kv_bytes_per_token"] == 31104 and res["details"]["block_size"] == 64


@pytest.mark.parametrize(
    "args,needle",
    [
        ({"model_path": LLAMA, "gpu_model": "H100-80GB", "tensor_parallel_size": 3},
         "Total number of attention heads (32) must be divisible by tensor parallel size (3)"),
        ({"model_path": LLAMA, "gpu_model": "H100-80GB", "gpu_memory_utilization": 1.5}, "gpu_memory_utilization=1.5"),
        ({"model_path": "/nonexistent/model", "gpu_model": "H100-80GB"}, "holds no config.json"),
        ({"model_path": LLAMA, "gpu_model": "H100-80GB", "quantization": "int3"}, "quantization='int3'"),
        ({"model_path": LLAMA, "gpu_model": "H100-80GB", "max_model_len": -4}, "max_model_len=-4"),
        ({"model_path": LLAMA}, "one of the following is required: gpu_model, gpu_memory_gib"),
        ({"model_path": LLAMA, "model_config": {"a": 1}, "gpu_model": "L4"}, "mutually exclusive"),
    ],
)
def test_bad_input_fails_with_a_message(tmp_path, args, needle):
    res = run_module("vllm_sizing", tmp_path, args)
    assert res.get("failed") is True and needle in res["msg"]
