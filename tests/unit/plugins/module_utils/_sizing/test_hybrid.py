"""Hybrid gated-delta-net models (Qwen3-Next / Qwen3.5 / Qwen3.6): vLLM's page unification and the
printed token count, replayed against real 0.24.0 startup logs."""

from __future__ import annotations

import pytest
from conftest import load

from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing import GIB, kv
from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing.arch import FULL, LINEAR, normalize_config
from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing.sizing import size_model

# Attention / GDN geometry of Qwen3.6-35B-A3B (10 full + 30 gated-delta-net layers, 2 KV heads x 256,
# GDN 16 key / 32 value heads x 128, conv kernel 4), as read from its config.json by the kv_geometry
# tool quoted in docs/sizing.md.
QWEN36_TEXT = {
    "model_type": "qwen3_5_moe_text", "num_hidden_layers": 40, "hidden_size": 2048, "num_attention_heads": 16,
    "num_key_value_heads": 2, "head_dim": 256, "vocab_size": 248320, "max_position_embeddings": 262144,
    "layer_types": ["linear_attention", "linear_attention", "linear_attention", "full_attention"] * 10,
    "linear_num_key_heads": 16, "linear_num_value_heads": 32, "linear_key_head_dim": 128,
    "linear_value_head_dim": 128, "linear_conv_kernel_dim": 4, "num_experts": 256, "num_experts_per_tok": 8,
    "moe_intermediate_size": 512, "shared_expert_intermediate_size": 512,
}


def test_qwen3_next_pattern_from_full_attention_interval():
    arch = normalize_config(load("Qwen--Qwen3-Next-80B-A3B-Instruct"))
    assert arch.is_gdn and arch.layer_types.count(FULL) == 12 and arch.layer_types.count(LINEAR) == 36
    assert arch.layer_types[3] == FULL and not arch.notes


def test_page_unification():
    arch = normalize_config({"text_config": QWEN36_TEXT, "architectures": ["Qwen3_5MoeForConditionalGeneration"]})
    # GDN state: conv (16*128*2 + 32*128 = 8192) x 3 x 2 B = 49,152 + temporal 32 x 128 x 128 x 4 B = 2,097,152
    assert kv.gdn_state_bytes(arch, 1, 2) == 2146304
    # fp8 KV: 2 x 2 x 256 x 1 B = 1024 B per token and layer -> 16 x cdiv(2146304, 16 x 1024) = 2096 tokens
    assert kv.hybrid_attention_block_size(1024, 2146304) == 2096
    lay = kv.stage_layout(arch, 0, 40, 1, 1, 16, state_bytes=2)
    assert lay.block_size == 2096 and lay.group_size == 10 and len(lay.groups) == 4


@pytest.mark.parametrize("available_gib,reported", [(5.98, 567978), (6.01, 569878)])
def test_tokens_match_real_logs(available_gib, reported):
    """vLLM 0.24.0, RTX 5090, Qwen3.6-35B-A3B NVFP4, fp8 KV, max_model_len 131072, prefix caching on:
    "Available KV cache memory: 5.98 GiB" -> "GPU KV cache size: 567,978 tokens" (4.33x) and 6.01 -> 569,878.
    blocks = avail // 2146304 // 10; per request cdiv(131072, 2096) + 3 mamba groups x 2 = 69 blocks."""
    arch = normalize_config({"text_config": QWEN36_TEXT})
    lay = kv.stage_layout(arch, 0, 40, 1, 1, 16, state_bytes=2)
    got = set()
    for delta in (-0.005, 0.0, 0.005):
        blocks = lay.num_blocks(int((available_gib + delta) * GIB))
        got.add(int(lay.max_concurrency(blocks, 131072, 8192) * 131072))
    assert reported in got


def test_hybrid_end_to_end_is_sized_not_flagged():
    out = size_model(model_config=load("Qwen--Qwen3-Next-80B-A3B-Instruct"), gpu_model="H200", tensor_parallel_size=2,
                     max_model_len=131072, vllm_version="0.24.0")
    assert out["fits"] and out["kv_cache_groups"] == 4 and out["block_size"] % 16 == 0 and out["block_size"] > 16
    # 80B bf16 over two GPUs: ~74 GiB each
    assert 70 < out["weights_gib"] < 78


def test_gdn_cudagraph_transient_flagged_from_026():
    """vllm-project/vllm#50780: from 0.26 the FULL-graph profiling capture of a GDN hybrid carries a
    max_num_batched_tokens-sized transient into the CUDA-graph estimate; it is flagged, not sized."""
    cfg = load("Qwen--Qwen3-Next-80B-A3B-Instruct")
    kwargs = dict(model_config=cfg, gpu_model="H200", tensor_parallel_size=2, max_model_len=131072)
    assert any("vllm#50780" in n for n in size_model(vllm_version="0.26.0", **kwargs)["notes"])
    assert not any("vllm#50780" in n for n in size_model(vllm_version="0.24.0", **kwargs)["notes"])
    assert not any("vllm#50780" in n for n in size_model(vllm_version="0.33.0", enforce_eager=True, **kwargs)["notes"])
