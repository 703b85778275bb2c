"""config.json normalisation on real configs of 12+ architectures (dense GQA, MoE, MLA, sliding-window
hybrids, VLMs, AWQ/GPTQ/FP8/compressed-tensors/mxfp4). Expected values read off the configs by hand."""

from __future__ import annotations

import pytest
from conftest import load

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing.arch import (
    CHUNKED,
    FULL,
    SLIDING,
    normalize_config,
)

# name, layers, heads, kv_heads, head_dim, vocab, derived max len (and why), quant, moe experts, mla rank
CASES = [
    # llama3 rope scaling does not extend the length (vLLM skips rope_type llama3): 131072 positions
    ("meta-llama--Llama-3.1-8B-Instruct", 32, 32, 8, 128, 128256, 131072, None, 0, 0),
    ("meta-llama--Llama-3.3-70B-Instruct", 80, 64, 8, 128, 128256, 131072, None, 0, 0),
    # head_dim = 3584 / 28 = 128
    ("Qwen--Qwen2.5-7B-Instruct", 28, 28, 4, 128, 152064, 32768, None, 0, 0),
    ("Qwen--Qwen2.5-7B-Instruct-GPTQ-Int4", 28, 28, 4, 128, 152064, 32768, "gptq", 0, 0),
    ("Qwen--Qwen2.5-32B-Instruct-AWQ", 64, 40, 8, 128, 152064, 32768, "awq", 0, 0),
    ("Qwen--Qwen3-30B-A3B", 48, 32, 4, 128, 151936, 40960, None, 128, 0),
    ("Qwen--Qwen3-235B-A22B-FP8", 94, 64, 4, 128, 151936, 40960, "fp8", 128, 0),
    ("mistralai--Mixtral-8x7B-Instruct-v0.1", 32, 32, 8, 128, 32000, 32768, None, 8, 0),
    # yarn: original_max_position_embeddings 4096 x factor 40 = 163840; MLA head size = 512 + 64 = 576
    ("deepseek-ai--DeepSeek-V2-Lite-Chat", 27, 16, 16, 576, 102400, 163840, None, 64, 512),
    ("deepseek-ai--DeepSeek-V3", 61, 128, 128, 576, 129280, 163840, "fp8", 256, 512),
    # text_config; Gemma3TextConfig defaults vocab 262208 / 131072 positions; gemma3 rope is not applied
    ("google--gemma-3-27b-it", 62, 32, 16, 128, 262208, 131072, None, 0, 0),
    # mrope_section: factor counts as 1, so 128000 stays
    ("Qwen--Qwen2.5-VL-7B-Instruct", 28, 28, 4, 128, 152064, 128000, None, 0, 0),
    ("neuralmagic--Meta-Llama-3.1-8B-Instruct-FP8", 32, 32, 8, 128, 128256, 131072, "compressed-tensors", 0, 0),
    # yarn 4096 x 32 = 131072; head_dim given explicitly (64, not 2880/64 = 45)
    ("openai--gpt-oss-20b", 24, 64, 8, 64, 201088, 131072, "mxfp4", 32, 0),
    ("google--gemma-2-27b-it", 46, 32, 16, 128, 256000, 8192, None, 0, 0),
    ("microsoft--phi-4", 40, 40, 10, 128, 100352, 16384, None, 0, 0),
]


@pytest.mark.parametrize("name,layers,heads,kv,head_dim,vocab,max_len,quant,experts,mla", CASES)
def test_normalise_real_configs(name, layers, heads, kv, head_dim, vocab, max_len, quant, experts, mla):
    arch = normalize_config(load(name))
    assert (arch.num_layers, arch.num_attention_heads, arch.num_kv_heads, arch.head_dim) == (layers, heads, kv, head_dim)
    assert arch.vocab_size == vocab
    assert arch.derived_max_model_len == max_len
    assert (arch.quant.method.name if arch.quant else None) == quant
    assert arch.num_experts == experts
    assert arch.kv_lora_rank == mla


def test_layer_patterns():
    # Gemma 3: every 6th layer (index 5, 11, ...) is global: 62 layers -> 10 full, 52 sliding of 1024
    g3 = normalize_config(load("google--gemma-3-27b-it"))
    assert g3.layer_types.count(FULL) == 10 and g3.layer_types.count(SLIDING) == 52 and g3.sliding_window == 1024
    assert g3.layer_types[5] == FULL and g3.layer_types[0] == SLIDING
    # Gemma 2: even layers slide (4096), odd layers are global: 23 + 23
    g2 = normalize_config(load("google--gemma-2-27b-it"))
    assert g2.layer_types.count(SLIDING) == 23 and g2.layer_types.count(FULL) == 23
    # gpt-oss: explicit layer_types, alternating sliding (128) / full
    oss = normalize_config(load("openai--gpt-oss-20b"))
    assert oss.layer_types[:2] == (SLIDING, FULL) and oss.sliding_window == 128
    # Mistral 7B v0.1: sliding_window 4096 on every layer
    assert set(normalize_config(load("mistralai--Mistral-7B-Instruct-v0.1")).layer_types) == {SLIDING}
    # Qwen2.5: use_sliding_window false -> the 131072 window is ignored
    assert set(normalize_config(load("Qwen--Qwen2.5-7B-Instruct")).layer_types) == {FULL}


def test_llama4_chunked_attention():
    cfg = dict(load("meta-llama--Llama-3.1-8B-Instruct"), model_type="llama4_text", attention_chunk_size=8192)
    arch = normalize_config(cfg)
    # no_rope_layer_interval 4: layers 3, 7, ... are global, the rest chunked-local
    assert arch.layer_types.count(FULL) == 8 and arch.layer_types.count(CHUNKED) == 24


def test_quant_details():
    awq = normalize_config(load("Qwen--Qwen2.5-32B-Instruct-AWQ")).quant
    assert (awq.bits, awq.group_size) == (4, 128)
    fp8 = normalize_config(load("Qwen--Qwen3-235B-A22B-FP8")).quant
    assert fp8.weight_block == (128, 128) and fp8.bits == 8
    ct = normalize_config(load("neuralmagic--Meta-Llama-3.1-8B-Instruct-FP8")).quant
    assert (ct.bits, ct.group_size) == (8, 0)
    assert normalize_config(load("openai--gpt-oss-20b")).quant.method.experts_only is True


def test_vision_tower_is_counted():
    # Qwen2.5-VL: 32 SwiGLU blocks 1280 wide: 4h^2 + 3*h*3420 = 19.7M each = 630M, plus patch embed and merger
    vl = normalize_config(load("Qwen--Qwen2.5-VL-7B-Instruct"))
    assert 0.6e9 < vl.vision_params < 0.75e9
    assert normalize_config(load("Qwen--Qwen2.5-7B-Instruct")).vision_params == 0


@pytest.mark.parametrize(
    "cfg,needle",
    [
        ({}, "model_config must be the dict of a config.json"),
        ({"hidden_size": 4096, "num_attention_heads": 32, "vocab_size": 10}, "num_hidden_layers=None"),
        ({"num_hidden_layers": -2, "hidden_size": 8, "num_attention_heads": 1, "vocab_size": 1}, "num_hidden_layers=-2"),
        (dict(load("Qwen--Qwen2.5-7B-Instruct"), quantization_config={"quant_method": "gguf"}), "quant_method='gguf'"),
    ],
)
def test_bad_configs_name_the_field(cfg, needle):
    with pytest.raises(LlmopsError) as err:
        normalize_config(cfg)
    assert needle in str(err.value)


def test_linear_attention_layers_are_flagged():
    cfg = dict(load("Qwen--Qwen3-8B"), layer_types=["linear_attention"] * 27 + ["full_attention"] * 9)
    arch = normalize_config(cfg)
    assert arch.attention_layers == 9
    assert any("27 of 36 layers are linear-attention" in note for note in arch.notes)
