"""End to end: size_model() against real startup logs, vLLM's failure wording, bad input."""

from __future__ import annotations

import importlib.util
import os
import statistics

import pytest
from conftest import ROOT, load

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing.sizing import size_model


def _accuracy_module():
    spec = importlib.util.spec_from_file_location("sizing_accuracy", os.path.join(ROOT, "benchmarks", "sizing_accuracy.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


ACCURACY = _accuracy_module()
ROWS = ACCURACY.evaluate()


def test_enough_real_cases():
    assert len(ROWS) >= 15
    # every case names where it comes from: a URL, or (code-search finds) the index id and what it is
    assert all((row["case"].get("source_url") or "").startswith("https://") or row["case"].get("source") for row in ROWS)


def test_median_error_on_real_logs_within_5_percent():
    """Predicted "GPU KV cache size" (or "Available KV cache memory") vs what vLLM printed."""
    errors = [abs(row["error_pct"]) for row in ROWS if row["error_pct"] is not None]
    assert len(errors) >= 15
    assert statistics.median(errors) <= 5.0, ACCURACY.summary(ROWS)


@pytest.mark.parametrize("label", ["<0.21", ">=0.21"])
def test_each_release_band_within_5_percent(label):
    """The CUDA-graph estimate is subtracted from 0.21 on: each band is held to the gate on its own."""
    band = ACCURACY.band_summary(ROWS)[label]
    assert band["compared"] >= 1, band
    assert band["median_abs_error_pct"] <= 5.0, band
    assert band["verdicts_right"] == band["verdicts"], band


def test_cudagraph_estimate_matches_printed_estimates():
    """'Estimated CUDA graph memory: X GiB total' printed by 0.19 (H100) and 0.21 startups."""
    errors = ACCURACY.cudagraph_summary(ROWS)
    assert len(errors) >= 30
    assert statistics.median(errors) <= 0.12, errors


@pytest.mark.parametrize("row", [r for r in ROWS if r["verdict_ok"] is not None], ids=lambda r: r["id"])
def test_fit_verdict_matches_vllm(row):
    assert row["verdict_ok"], (row["case"].get("expect_fits"), row["result"].get("reasons"))


def llama(**kwargs):
    return size_model(model_config=load("meta-llama--Llama-3.1-8B-Instruct"), **kwargs)


def test_contract_keys_and_defaults():
    out = llama(gpu_model="NVIDIA-H100-80GB-HBM3")
    for key in ("weights_gib", "activation_gib", "non_torch_gib", "cudagraph_gib", "kv_cache_gib", "kv_bytes_per_token",
                "kv_cache_tokens", "max_concurrency", "fits", "reasons", "recommendations"):
        assert key in out
    assert out["vllm_version"] == "0.33.0" and out["gpu_memory_utilization"] == 0.9
    assert out["max_num_batched_tokens"] == 8192 and out["max_num_seqs"] == 1024  # H100: large defaults
    assert out["max_model_len"] == 131072 and out["fits"] and out["kv_bytes_per_token"] == 131072
    assert set(out["recommendations"]) == {"max_model_len", "max_num_seqs", "tensor_parallel_sizes",
                                           "pod_memory_limit", "shm_size"}


def test_no_memory_for_cache_blocks():
    # 15 GiB of weights, 0.2 x 79.19 = 15.8 GiB requested: nothing left after activations
    out = llama(gpu_model="H100-80GB", gpu_memory_utilization=0.2, max_model_len=8192)
    assert not out["fits"] and out["kv_cache_tokens"] == 0
    assert out["reasons"][0].startswith(
        "No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when initializing the engine.")


def test_max_seq_len_does_not_fit_message():
    # L4 (22.03 GiB): 0.9 x 22.03 - 15 GiB weights - overheads ~ 3.1 GiB; 131072 tokens need 16 GiB
    out = llama(gpu_model="NVIDIA-L4")
    assert not out["fits"]
    msg = out["reasons"][0]
    assert msg.startswith("To serve at least one request with the models's max seq len (131072), (16.00 GiB KV cache is needed")
    assert "Based on the available memory, the estimated maximum model length is" in msg
    assert "Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine." in msg
    rec = out["recommendations"]["max_model_len"]
    assert 0 < rec < 131072 and llama(gpu_model="NVIDIA-L4", max_model_len=rec)["fits"]


def test_v0_wording():
    out = llama(gpu_model="RTX-3090", max_model_len=29000, vllm_version="0.6.4")
    assert out["reasons"][0].startswith("The model's max seq len (29000) is larger than the maximum number of tokens")


def test_derived_max_len_message():
    out = llama(gpu_model="H100-80GB", max_model_len=200000)
    assert not out["fits"]
    assert out["reasons"][0].startswith("User-specified max_model_len (200000) is greater than the derived max_model_len "
                                        "(max_position_embeddings=131072 or model_max_length=None in model's config.json).")


def test_weights_larger_than_gpu():
    out = size_model(model_config=load("meta-llama--Llama-3.3-70B-Instruct"), gpu_model="L40S", max_model_len=8192)
    assert not out["fits"] and "torch.OutOfMemoryError" in out["reasons"][0]
    assert out["recommendations"]["tensor_parallel_sizes"] == [4, 8]


def test_auto_fit_max_model_len():
    out = llama(gpu_model="L4", max_model_len=-1)
    assert out["fits"] and 8192 < out["max_model_len"] < 131072


def test_pipeline_parallel_reports_the_busiest_stage():
    pp2 = llama(gpu_model="H100-80GB", pipeline_parallel_size=2, max_model_len=8192)
    assert pp2["weights_gib"] == pytest.approx(7.5, abs=0.1) and pp2["fits"]


def test_fp8_kv_cache_doubles_tokens():
    base = llama(gpu_model="H100-80GB", max_model_len=8192)
    fp8 = llama(gpu_model="H100-80GB", max_model_len=8192, kv_cache_dtype="fp8")
    assert fp8["kv_cache_tokens"] == pytest.approx(2 * base["kv_cache_tokens"], abs=32)


def test_online_fp8_quantization_halves_weights():
    assert llama(gpu_model="H100-80GB", quantization="fp8")["weights_gib"] == pytest.approx(8.49, abs=0.1)


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        ({"tensor_parallel_size": 3}, "Valid tensor_parallel_size values: [1, 2, 4, 8]"),
        ({"gpu_memory_utilization": 1.5}, "gpu_memory_utilization=1.5 must be a fraction in (0, 1]"),
        ({"gpu_memory_utilization": 0}, "gpu_memory_utilization=0"),
        ({"max_model_len": -5}, "max_model_len=-5 must be a positive integer"),
        ({"max_num_seqs": -1}, "max_num_seqs=-1"),
        ({"max_num_batched_tokens": 0}, "max_num_batched_tokens=0"),
        ({"max_num_seqs": 512, "max_num_batched_tokens": 256}, "raise max_num_batched_tokens to at least 512"),
        ({"quantization": "gguf"}, "quantization='gguf' is not one this collection can size; valid:"),
        ({"quantization": "awq"}, "needs a checkpoint quantized with awq"),
        ({"kv_cache_dtype": "int3"}, "kv_cache_dtype='int3'"),
        ({"dtype": "float8"}, "dtype='float8'"),
        ({"block_size": 24}, "block_size=24 is not one vLLM accepts; valid: [1, 8, 16, 32, 64, 128]"),
        ({"vllm_version": "banana"}, "vllm_version='banana'"),
        ({"gpu_model": "H100-80GB", "gpu_memory_gib": -1}, "gpu_memory_gib=-1"),
    ],
)
def test_bad_input_names_value_and_fix(kwargs, needle):
    kwargs = dict({"gpu_model": "H100-80GB"}, **kwargs)
    with pytest.raises(LlmopsError) as err:
        llama(**kwargs)
    assert needle in str(err.value)


def test_missing_config_json(tmp_path):
    with pytest.raises(LlmopsError) as err:
        size_model(model_path=str(tmp_path), gpu_model="H100-80GB")
    assert "holds no config.json" in str(err.value) and str(tmp_path) in str(err.value)


def test_quantization_mismatch_is_vllms_error():
    with pytest.raises(LlmopsError) as err:
        size_model(model_config=load("Qwen--Qwen2.5-32B-Instruct-AWQ"), gpu_model="L40S", quantization="gptq")
    assert "Quantization method specified in the model config (awq) does not match" in str(err.value)
    # marlin kernels read the same checkpoint
    assert size_model(model_config=load("Qwen--Qwen2.5-32B-Instruct-AWQ"), gpu_model="L40S", quantization="awq_marlin",
                      max_model_len=8192)["fits"]


def test_printed_token_count_by_release():
    """0.19 printed num_blocks // groups x block; 0.20+ prints int(max_concurrency x max_model_len)."""
    gemma = load("google--gemma-3-27b-it")
    old = size_model(model_config=gemma, gpu_model="H100-80GB", max_model_len=8192, gpu_memory_utilization=0.95,
                     vllm_version="0.19.0")
    new = size_model(model_config=gemma, gpu_model="H100-80GB", max_model_len=8192, gpu_memory_utilization=0.95,
                     vllm_version="0.24.0")
    # 7 groups of 10 layers: old = blocks // 7 x 16; per request 512 full + 6 x 513 sliding blocks = 3590
    assert old["kv_cache_tokens"] == old["num_gpu_blocks"] // 7 * 16
    assert new["kv_cache_tokens"] == int(new["num_gpu_blocks"] / 3590 * 8192)
    # one full-attention group: both formulas give num_blocks x 16 when max_model_len is a multiple of 16
    dense = llama(gpu_model="H100-80GB", max_model_len=8192, vllm_version="0.24.0")
    assert dense["kv_cache_tokens"] == dense["num_gpu_blocks"] * 16
