"""Weight bytes per GPU. Golden numbers from parameter counts by hand, checked against vLLM's
"Model loading took X GiB" of real logs (tests/fixtures/vllm_logs/cases.json)."""

from __future__ import annotations

import json

import pytest
from conftest import load

from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing import GIB
from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing.arch import load_model_dir, normalize_config
from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing.weights import (
    arch_weight_bytes,
    pp_partition,
    weight_bytes,
)


def gib(name, tp=1, pp=1, dtype_bytes=2):
    stages = arch_weight_bytes(normalize_config(load(name)), tp, pp, dtype_bytes)
    return max(s.bytes for s in stages) / GIB


def test_llama_8b_by_hand():
    # embed + lm_head: 2 x 128256 x 4096 = 1,050,673,152; per layer: q 4096^2 + k,v 2 x 4096 x 1024
    # + o 4096^2 + mlp 3 x 4096 x 14336 = 218,103,808 (+ norms); 32 layers -> 8.03e9 params x 2 bytes
    # + rope cache 131072 x 128 x 2 = 14.99 GiB, the "Model loading took 14.99 GiB" of vLLM 0.19
    assert gib("meta-llama--Llama-3.1-8B-Instruct") == pytest.approx(14.99, abs=0.01)


@pytest.mark.parametrize(
    "name,tp,reported",
    [
        ("Qwen--Qwen3-8B", 1, 15.27),
        ("Qwen--Qwen2.5-7B-Instruct", 1, 14.25),
        ("Qwen--Qwen2.5-7B-Instruct", 4, 3.55),
        ("Qwen--Qwen3-30B-A3B", 1, 56.88),
        ("mistralai--Mixtral-8x7B-Instruct-v0.1", 2, 43.51),
        ("google--gemma-3-27b-it", 1, 51.45),
        ("google--gemma-2-9b-it", 1, 17.22),
        ("microsoft--phi-4", 1, 27.39),
        ("deepseek-ai--DeepSeek-V2-Lite-Chat", 1, 29.43),
        # compressed-tensors fp8 channel-wise: linear layers 1 byte, embeddings/lm_head bf16
        ("RedHatAI--Llama-3.3-70B-Instruct-FP8-dynamic", 2, 33.88),
        # GPTQ 4-bit, group 128: 0.5 byte + (16-bit scale + 4-bit zero) / 128 per weight
        ("RedHatAI--Meta-Llama-3.1-8B-Instruct-quantized.w4a16", 1, 5.38),
        # mxfp4 experts (4.25 bits, intermediate padded 2880 -> 3072), bf16 attention
        ("openai--gpt-oss-20b", 1, 13.64),
    ],
)
def test_matches_model_loading_took(name, tp, reported):
    assert gib(name, tp) == pytest.approx(reported, rel=0.035)


def test_pp_partition_matches_vllm_get_pp_indices():
    # 32 layers over 3 stages: 10 each, the remainder 2 goes to partitions[-2] and [-3]
    assert [count for _first, count in pp_partition(32, 3)] == [11, 11, 10]
    assert pp_partition(32, 4) == [(0, 8), (8, 8), (16, 8), (24, 8)]
    # the first stage holds the embedding, the last the lm_head: stage weights differ
    stages = arch_weight_bytes(normalize_config(load("meta-llama--Llama-3.1-8B-Instruct")), 1, 2, 2)
    assert stages[0].bytes / GIB == pytest.approx(7.51, abs=0.02)  # rank 0 "Model loading took 7.51 GiB"


def test_safetensors_index_is_exact(tmp_path):
    cfg = load("meta-llama--Llama-3.1-8B-Instruct")
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": 16060522496}}))
    config, total = load_model_dir(str(tmp_path))
    assert total == 16060522496 and config["num_hidden_layers"] == 32
    stages, source = weight_bytes(normalize_config(config), 1, 1, 2, total)
    assert "safetensors" in source
    assert stages[0].bytes == pytest.approx(16060522496, rel=0.003)


def test_safetensors_headers_without_index(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(load("Qwen--Qwen2.5-7B-Instruct")))
    header = json.dumps({"__metadata__": {"format": "pt"}, "a": {"dtype": "BF16", "shape": [10, 10], "data_offsets": [0, 200]},
                         "b": {"dtype": "BF16", "shape": [5], "data_offsets": [200, 210]}}).encode()
    (tmp_path / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 210)
    _cfg, total = load_model_dir(str(tmp_path))
    assert total == 210


def test_unusable_checkpoint_size_is_not_used_silently():
    arch = normalize_config(load("meta-llama--Llama-3.1-8B-Instruct"))
    stages, source = weight_bytes(arch, 1, 1, 2, 3 * 16060522496)
    assert "was not used" in source and stages[0].bytes / GIB == pytest.approx(14.99, abs=0.01)
