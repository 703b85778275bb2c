# -*- coding: utf-8 -*-
"""Rendering `vllm serve` arguments and checking extra_args against a release."""

import pytest

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import args


def _settings(**kw):
    base = {"name": "llama-8b", "model": "/models/llama-8b", "served_model_name": "llama-8b",
            "tensor_parallel_size": 1}
    base.update(kw)
    return base


def test_render_minimal():
    assert args.render_serve_args(_settings(), "0.33.0") == [
        "/models/llama-8b", "--host", "0.0.0.0", "--port", "8000",
        "--served-model-name", "llama-8b", "--tensor-parallel-size", "1"]


def test_render_full_order_and_formatting():
    out = args.render_serve_args(_settings(
        tensor_parallel_size=4, pipeline_parallel_size=1, max_model_len=32768, max_num_seqs=128,
        gpu_memory_utilization=0.92, kv_cache_dtype="fp8", dtype="auto", quantization="fp8",
        enable_prefix_caching=False, lora_adapters=[{"name": "sql", "path": "/models/lora/sql"},
                                                    {"name": "chat", "path": "/models/lora/chat"}],
        extra_args=["--enforce-eager", "--max-logprobs=5", "--cpu-offload-gb 8"]), "0.33.0", port=9000)
    assert out == [
        "/models/llama-8b", "--host", "0.0.0.0", "--port", "9000",
        "--served-model-name", "llama-8b", "--tensor-parallel-size", "4", "--max-model-len", "32768",
        "--max-num-seqs", "128", "--gpu-memory-utilization", "0.92", "--quantization", "fp8",
        "--kv-cache-dtype", "fp8", "--no-enable-prefix-caching", "--enable-lora", "--lora-modules",
        "sql=/models/lora/sql", "chat=/models/lora/chat", "--enforce-eager", "--max-logprobs=5",
        "--cpu-offload-gb", "8"]


def test_prefix_caching_false_left_out_where_no_negative_form():
    out = args.render_serve_args(_settings(enable_prefix_caching=False), "0.6.0")
    assert "--no-enable-prefix-caching" not in out


@pytest.mark.parametrize("extra, version, message", [
    (["--num-scheduler-steps", "8"], "0.33.0", "not accepted by vLLM 0.33.0"),
    (["--tensor-parallel-size", "2"], "0.33.0", "renders from tensor_parallel_size"),
    (["--api-key", "secret"], "0.33.0", "VLLM_API_KEY from a Secret"),
    (["--port=9000"], "0.33.0", "vllm_deploy_container_port"),
    (["--enforce-eager=true"], "0.33.0", "takes no value"),
    (["--max-logprobs"], "0.33.0", "needs a value"),
    (["8"], "0.33.0", "does not follow a flag"),
    (["--bogus-flag"], "0.33.0", "not a `vllm serve` flag"),
    ("--enforce-eager", "0.33.0", "must be a list"),
    (["--structured-outputs-config", "{}"], "0.10.0", "exists in releases 0.11.0 and later"),
])
def test_extra_args_refused(extra, version, message):
    with pytest.raises(LlmopsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        args.parse_extra_args(extra, version)


def test_extra_args_accepted_for_old_release():
    assert args.parse_extra_args(["--num-scheduler-steps", "8"], "0.7.3") == ["--num-scheduler-steps", "8"]
    assert args.parse_extra_args(["--no-enable-chunked-prefill"], "0.33.0") == ["--no-enable-chunked-prefill"]


@pytest.mark.parametrize("kw, message", [
    ({"tensor_parallel_size": 0}, "tensor_parallel_size=0 must be a positive integer"),
    ({"max_model_len": "4096"}, "max_model_len='4096' must be a positive integer"),
    ({"gpu_memory_utilization": 1.5}, r"gpu_memory_utilization=1.5 must be in \(0, 1\]"),
    ({"dtype": "fp16"}, "dtype='fp16' is not a vLLM dtype"),
    ({"kv_cache_dtype": "fp8_inc"}, "kv_cache_dtype='fp8_inc' is not accepted by vLLM 0.7.3"),
    ({"lora_adapters": [{"name": "x"}]}, "needs name and path"),
    ({"lora_adapters": [{"name": "bad name", "path": "/p"}]}, "LoRA adapter name 'bad name'"),
    ({"model": ""}, "`model`"),
])
def test_settings_refused(kw, message):
    with pytest.raises(LlmopsError, match=message):
        args.render_serve_args(_settings(**kw), "0.7.3")
