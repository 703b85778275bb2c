"""Run the real vllm_parallel module as Ansible does."""

from __future__ import annotations

import os

import pytest
from test_vllm_sizing import CONFIGS, run_module

LLAMA70 = os.path.join(CONFIGS, "meta-llama--Llama-3.3-70B-Instruct")
AWQ = os.path.join(CONFIGS, "Qwen--Qwen2.5-32B-Instruct-AWQ")


def test_valid_single_node_plan(tmp_path):
    res = run_module("vllm_parallel", tmp_path, {"model_path": LLAMA70, "tensor_parallel_size": 4, "gpus_per_node": 8,
                                                 "gpu_request": 4})
    assert res["valid"] is True and res["reasons"] == [] and res["multi_node"] is False and res["changed"] is False
    assert res["valid_tensor_parallel_sizes"] == [1, 2, 4, 8]


def test_multi_node_plan(tmp_path):
    res = run_module("vllm_parallel", tmp_path, {"model_path": LLAMA70, "tensor_parallel_size": 8,
                                                 "pipeline_parallel_size": 2, "gpus_per_node": 8, "nodes": 2,
                                                 "gpu_request": 8}, check_mode=True)
    assert res["valid"] and res["multi_node"]


@pytest.mark.parametrize(
    "args,needle",
    [
        ({"model_path": LLAMA70, "tensor_parallel_size": 3}, "Total number of attention heads (64) must be divisible"),
        ({"model_path": LLAMA70, "tensor_parallel_size": 2, "mig": True}, "MIG slices cannot host"),
        ({"model_path": LLAMA70, "tensor_parallel_size": 4, "gpu_request": 8}, "nvidia.com/gpu=8"),
        ({"model_path": AWQ, "tensor_parallel_size": 16}, "The input size is not aligned with the quantized weight shape"),
        ({"model_path": LLAMA70, "max_num_seqs": 256, "max_num_batched_tokens": 128}, "must be greater than or equal"),
    ],
)
def test_invalid_plans_explain_why(tmp_path, args, needle):
    res = run_module("vllm_parallel", tmp_path, args)
    assert res["valid"] is False and any(needle in r for r in res["reasons"]), res["reasons"]


def test_bad_input_fails(tmp_path):
    res = run_module("vllm_parallel", tmp_path, {"model_path": LLAMA70, "tensor_parallel_size": 0})
    assert res["failed"] and "tensor_parallel_size=0" in res["msg"]
    res = run_module("vllm_parallel", tmp_path, {"model_path": str(tmp_path)})
    assert res["failed"] and "holds no config.json" in res["msg"]
