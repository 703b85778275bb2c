"""Parallelism rules, in vLLM's wording, and the valid alternatives."""

from __future__ import annotations

import pytest
from conftest import load

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing import parallel
from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing.arch import normalize_config


def arch(name, **overrides):
    return normalize_config(dict(load(name), **overrides))


@pytest.mark.parametrize(
    "name,valid",
    [
        ("meta-llama--Llama-3.1-8B-Instruct", [1, 2, 4, 8, 16, 32]),  # 32 heads; TP 16/32 replicate the 8 KV heads
        ("Qwen--Qwen2.5-7B-Instruct", [1, 2, 4]),  # 28 heads
        ("Qwen--Qwen2.5-72B-Instruct", [1, 2, 4, 8, 16, 32, 64]),
        ("deepseek-ai--DeepSeek-V2-Lite-Chat", [1, 2, 4, 8, 16]),  # MLA: only the 16 query heads are split
        ("microsoft--phi-4", [1, 2]),  # 40 heads, 10 KV heads: TP 4 splits neither evenly
    ],
)
def test_valid_tp(name, valid):
    assert parallel.valid_tp_sizes(arch(name), 64) == valid


def test_heads_message_is_vllms():
    out = parallel.validate(arch("meta-llama--Llama-3.1-8B-Instruct"), 3)
    assert not out["valid"]
    assert "Total number of attention heads (32) must be divisible by tensor parallel size (3)." in out["reasons"]
    assert out["valid_tensor_parallel_sizes"] == [1, 2, 4, 8]


def test_awq_group_alignment():
    # Qwen2.5-32B-AWQ: down_proj input 27648 / 8 = 3456 = 27 groups of 128 -> fine; / 16 = 1728 -> 13.5 groups
    awq = arch("Qwen--Qwen2.5-32B-Instruct-AWQ")
    assert parallel.tp_reasons(awq, 8) == []
    reasons = parallel.tp_reasons(awq, 16)
    assert any("The input size is not aligned with the quantized weight shape" in r for r in reasons)


def test_fp8_block_alignment():
    # intermediate 12288 / 64 = 192, not a multiple of the 128-wide fp8 blocks
    fp8 = arch("Qwen--Qwen3-235B-A22B-FP8", num_attention_heads=64, num_key_value_heads=64)
    assert parallel.tp_reasons(fp8, 32) == []
    assert any("block_n = 128" in r or "block_k = 128" in r for r in parallel.tp_reasons(fp8, 64))


def test_node_shape_rules():
    llama70 = arch("meta-llama--Llama-3.3-70B-Instruct")
    out = parallel.validate(llama70, 8, 2, gpus_per_node=8, gpu_request=8, nodes=2)
    assert out["valid"] and out["multi_node"]
    out = parallel.validate(llama70, 16, 1, gpus_per_node=8, nodes=2)
    assert not out["valid"] and "exceeds the 8 GPUs of one node" in out["reasons"][0]
    out = parallel.validate(llama70, 4, 1, gpus_per_node=8, gpu_request=2)
    assert "nvidia.com/gpu=2" in out["reasons"][0]
    out = parallel.validate(llama70, 2, 1, gpus_per_node=7, mig=True)
    assert any("MIG" in r for r in out["reasons"])
    assert {"tensor_parallel_size": 8, "pipeline_parallel_size": 2, "nodes": 2} in \
        parallel.validate(llama70, 8, 1, gpus_per_node=8, nodes=2)["valid_plans"]


def test_scheduler_rule():
    out = parallel.validate(arch("meta-llama--Llama-3.1-8B-Instruct"), 1, max_num_seqs=512, max_num_batched_tokens=256)
    assert out["reasons"] == ["max_num_batched_tokens (256) must be greater than or equal to max_num_seqs (512)."]


@pytest.mark.parametrize("kwargs,needle", [
    ({"tensor_parallel_size": 0}, "tensor_parallel_size=0"),
    ({"pipeline_parallel_size": -1}, "pipeline_parallel_size=-1"),
    ({"gpus_per_node": "8"}, "gpus_per_node='8'"),
])
def test_bad_numbers(kwargs, needle):
    with pytest.raises(LlmopsError) as err:
        parallel.validate(arch("meta-llama--Llama-3.1-8B-Instruct"), **dict({"tensor_parallel_size": 1}, **kwargs))
    assert needle in str(err.value)


@pytest.mark.parametrize("method, hint", [("awq", "--quantization awq (the non-Marlin AWQ kernel)"),
                                          ("gptq", "--quantization gptq (the non-Marlin GPTQ kernel)")])
def test_marlin_shape_hint_names_the_checkpoints_own_kernel(method, hint):
    # group size 32: 27648 / 16 = 1728 is 54 groups (aligned) but not a multiple of Marlin's min_thread_k 128
    config = load("Qwen--Qwen2.5-32B-Instruct-AWQ")
    config["quantization_config"] = dict(config["quantization_config"], quant_method=method, group_size=32)
    reasons = [r for r in parallel.tp_reasons(normalize_config(config), 16) if "min_thread_k" in r]
    assert reasons and all(r.endswith(hint + ".") for r in reasons)
    if method == "awq":
        assert not any("--quantization gptq" in r for r in reasons)
