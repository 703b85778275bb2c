"""KV-cache specs and block arithmetic, golden numbers derived by hand from vLLM's formulas
(v1/kv_cache_interface.py page_size_bytes, v1/core/kv_cache_utils.py grouping / get_num_blocks /
_report_kv_cache_config), and replayed against the "Available KV cache memory" -> "GPU KV cache
size" pairs of real startup logs (tests/fixtures/vllm_logs/cases.json)."""

from __future__ import annotations

import pytest
from conftest import load

from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing import GIB, kv
from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing.arch import normalize_config


def layout(name, tp=1, kv_bytes=2, block=16, pp_first=0, pp_count=None, ds_mla=False):
    arch = normalize_config(load(name))
    return kv.stage_layout(arch, pp_first, pp_count or arch.num_layers, tp, kv_bytes, block, ds_mla)


@pytest.mark.parametrize(
    "name,tp,kv_bytes,block,expected",
    [
        # 32 layers x 2 (K,V) x 8 KV heads x 128 x 2 bytes = 131072
        ("meta-llama--Llama-3.1-8B-Instruct", 1, 2, 16, 131072),
        # TP=2 splits the 8 KV heads: 4 per rank -> 65536
        ("meta-llama--Llama-3.1-8B-Instruct", 2, 2, 16, 65536),
        # TP=16 > 8 KV heads: each rank keeps one replicated head -> 32 x 2 x 1 x 128 x 2 = 16384
        ("meta-llama--Llama-3.1-8B-Instruct", 16, 2, 16, 16384),
        # fp8 KV cache halves it
        ("meta-llama--Llama-3.1-8B-Instruct", 1, 1, 16, 65536),
        # 28 x 2 x 4 x 128 x 2 = 57344
        ("Qwen--Qwen2.5-7B-Instruct", 1, 2, 16, 57344),
        # 80 x 2 x (8/4) x 128 x 2 = 81920
        ("meta-llama--Llama-3.3-70B-Instruct", 4, 2, 16, 81920),
        # 48 x 2 x 4 x 128 x 2 = 98304
        ("Qwen--Qwen3-30B-A3B", 1, 2, 16, 98304),
        # MLA: 27 x (512 + 64) x 2 bytes = 31104, one latent head, not split by TP
        ("deepseek-ai--DeepSeek-V2-Lite-Chat", 1, 2, 64, 31104),
        ("deepseek-ai--DeepSeek-V2-Lite-Chat", 8, 2, 64, 31104),
        # Gemma 3 27B: page per layer 16 x 16 heads x 2 x 128 x 2 = 131072 (8192 per token);
        # groups of 10 layers (10 full layers): 52 sliding -> 6 groups (last padded), 10 full -> 1 group;
        # the reported token costs 8192 x 10 x 7 = 573440 bytes (padding included)
        ("google--gemma-3-27b-it", 1, 2, 16, 573440),
        # gpt-oss-20b: 12 sliding + 12 full, max < 1.5 x min -> group_size 12, 2 groups; 2048 x 12 x 2
        ("openai--gpt-oss-20b", 1, 2, 16, 49152),
    ],
)
def test_bytes_per_reported_token(name, tp, kv_bytes, block, expected):
    assert layout(name, tp, kv_bytes, block).bytes_per_token() == expected


def test_grouping_matches_vllm():
    g3 = layout("google--gemma-3-27b-it")
    assert g3.group_size == 10 and len(g3.groups) == 7
    assert sorted(g.layers for g in g3.groups) == [2, 10, 10, 10, 10, 10, 10]
    g2 = layout("google--gemma-2-27b-it")  # 23 sliding + 23 full: two groups of 23
    assert g2.group_size == 23 and len(g2.groups) == 2
    llama = layout("meta-llama--Llama-3.1-8B-Instruct")
    assert len(llama.groups) == 1 and llama.group_size == 32


@pytest.mark.parametrize(
    "name,tp,kv_bytes,available_gib,reported_tokens",
    [
        # "Available KV cache memory: 58.11 GiB" -> "GPU KV cache size: 476,016 tokens" (Llama 3.1 8B, H100, 0.19.0)
        ("meta-llama--Llama-3.1-8B-Instruct", 1, 2, 58.11, 476016),
        ("meta-llama--Llama-3.1-8B-Instruct", 1, 1, 58.11, 952032),  # --kv-cache-dtype fp8
        ("Qwen--Qwen2.5-7B-Instruct", 1, 2, 58.53, 1096000),
        ("Qwen--Qwen2.5-7B-Instruct", 4, 2, 67.34, 5043280),
        ("google--gemma-3-27b-it", 1, 2, 19.53, 36560),
        ("google--gemma-3-4b-it", 1, 2, 62.51, 468144),
        ("google--gemma-2-27b-it", 1, 2, 20.59, 58672),
        ("deepseek-ai--DeepSeek-V2-Lite-Chat", 1, 2, 43.61, 1505552),
        ("Qwen--Qwen3-30B-A3B", 1, 2, 15.41, 168288),
        ("Qwen--Qwen2.5-72B-Instruct", 2, 2, 3.04, 19920),
    ],
)
def test_tokens_from_reported_available_memory(name, tp, kv_bytes, available_gib, reported_tokens):
    """vLLM logs the available memory rounded to 0.01 GiB, so allow the tokens of +-0.005 GiB."""
    block = 64 if "DeepSeek" in name else 16
    lay = layout(name, tp, kv_bytes, block)
    low = lay.tokens(lay.num_blocks(int((available_gib - 0.005) * GIB)))
    high = lay.tokens(lay.num_blocks(int((available_gib + 0.005) * GIB)))
    assert low <= reported_tokens <= high


def test_max_memory_of_one_request():
    # Full attention: cdiv(32768, 16) = 2048 blocks x 16 x 131072/16... = 32768 tokens x 131072 B = 4 GiB
    llama = layout("meta-llama--Llama-3.1-8B-Instruct")
    assert llama.max_memory_usage_bytes(32768, 8192) == 4 * GIB
    # Sliding window 4096 with 8192 batched tokens: min(4095 + 8192, 32768) = 12287 tokens
    # -> cdiv(12287, 16) + 1 = 768 + 1 = 769 blocks x 65536 B per layer x 32 layers
    mistral = layout("mistralai--Mistral-7B-Instruct-v0.1")
    assert mistral.max_memory_usage_bytes(32768, 8192) == 769 * 65536 * 32


def test_estimate_max_model_len_is_vllms_binary_search():
    llama = layout("meta-llama--Llama-3.1-8B-Instruct")
    # 1 GiB holds 8192 tokens of 131072 bytes, in whole 16-token blocks
    assert llama.estimate_max_model_len(GIB, 131072, 8192) == 8192
    assert llama.estimate_max_model_len(GIB - 1, 131072, 8192) == 8176
    assert llama.estimate_max_model_len(1000, 131072, 8192) == 0


def test_concurrency():
    llama = layout("meta-llama--Llama-3.1-8B-Instruct")
    # 29751 blocks / (8192 / 16 = 512 blocks per request) = 58.107 -> "58.11x" in the log
    assert round(llama.max_concurrency(29751, 8192, 8192), 2) == 58.11


def test_fp8_ds_mla_page():
    v3 = normalize_config(load("deepseek-ai--DeepSeek-V3"))
    spec = kv.layer_spec(v3, "full", 8, 1, 64, ds_mla=True)
    assert spec.page_size_bytes == 64 * 656
    assert kv.kv_bytes_per_token_per_gpu(v3, 8, 1, 2) == 61 * 576 * 2
