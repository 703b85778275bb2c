# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Weight bytes per GPU, the way vLLM shards them.

Tensor parallel splits attention heads, MLP/expert intermediate dims and the (64-padded) vocab;
KV projections are replicated when TP exceeds the KV heads; norms and MoE routers are
replicated. Pipeline parallel gives each stage a contiguous slice of layers (vLLM
``get_pp_indices``), embeddings on the first stage, final norm + lm_head on the last.
Quantised linear layers take ``bits/8`` bytes per element plus one scale (and zero point) per group;
embeddings, lm_head, norms and routers stay in the model dtype.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing.arch import LINEAR, ModelArch, QuantConfig

VOCAB_PADDING = 64


@dataclass(frozen=True)
class StageWeights:
    first_layer: int
    num_layers: int
    bytes: int


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def pp_partition(num_layers: int, pp: int) -> list[tuple[int, int]]:
    """vLLM get_pp_indices: even split; the remainder goes to partitions[-2], [-3], ...

    (the last stage also holds the lm_head, so it is kept lighter).
    """
    per = num_layers // pp
    sizes = [per] * pp
    for i in range(2, num_layers % pp + 2):
        sizes[-i % pp] += 1
    out = []
    start = 0
    for size in sizes:
        out.append((start, size))
        start += size
    return out


def _linear_bytes(elements: float, quant: QuantConfig | None, dtype_bytes: int, expert: bool) -> float:
    if quant is None or (quant.method.experts_only and not expert):
        return elements * dtype_bytes
    data = elements * quant.bits / 8.0
    if quant.weight_block != (0, 0):
        groups = elements / float(quant.weight_block[0] * quant.weight_block[1])
    elif quant.group_size:
        groups = elements / float(quant.group_size)
    else:
        groups = 0.0  # per-channel / per-tensor scales: negligible
    return data + groups * (quant.method.scale_bits + quant.method.zero_bits) / 8.0


def _attention_elements(arch: ModelArch, tp: int) -> tuple[float, float]:
    """(sharded linear elements, replicated linear elements) of one attention block on one rank."""
    h = arch.hidden_size
    heads = arch.num_attention_heads / float(tp)
    if arch.is_mla:
        qk = arch.qk_nope_head_dim + arch.qk_rope_head_dim
        if arch.q_lora_rank:
            q = h * arch.q_lora_rank + arch.q_lora_rank * heads * qk
        else:
            q = h * heads * qk
        kv_a = h * (arch.kv_lora_rank + arch.qk_rope_head_dim)
        kv_b = arch.kv_lora_rank * heads * (arch.qk_nope_head_dim + arch.v_head_dim)
        o = heads * arch.v_head_dim * h
        return q + kv_b + o, kv_a
    kv_per_rank = max(1, arch.num_kv_heads // tp) if arch.num_kv_heads >= tp else 1
    q = h * heads * arch.head_dim * (2 if arch.attn_output_gate else 1)  # gated attention: q and gate
    kv = 2 * h * kv_per_rank * arch.head_dim
    o = heads * arch.head_dim * h
    return q + kv + o, 0.0


def _gdn_elements(arch: ModelArch, tp: int) -> tuple[float, float]:
    """Gated-delta-net layer: in_proj_qkvz, in_proj_ba, out_proj (sharded linear), conv1d + A/dt (small)."""
    h = arch.hidden_size
    key = arch.gdn_k_heads * arch.gdn_k_dim
    value = arch.gdn_v_heads * arch.gdn_v_dim
    linear = (h * (2 * key + 2 * value) + h * 2 * arch.gdn_v_heads + value * h) / float(tp)
    small = ((2 * key + value) * arch.gdn_conv_kernel + 2 * arch.gdn_v_heads + arch.gdn_v_dim) / float(tp)
    return linear, small


def _layer_bytes(arch: ModelArch, layer: int, tp: int, dtype_bytes: int) -> float:
    quant = arch.quant
    if arch.is_gdn and arch.layer_types[layer] == LINEAR:
        sharded, replicated = _gdn_elements(arch, tp)
    else:
        sharded, replicated = _attention_elements(arch, tp)
    total = _linear_bytes(sharded, quant, dtype_bytes, False) + replicated * dtype_bytes
    h = arch.hidden_size
    if arch.is_moe and layer >= arch.num_dense_layers:
        moe_inter = arch.moe_intermediate_size
        if quant is not None and quant.method.name == "mxfp4":
            moe_inter = -(-moe_inter // 256) * 256  # mxfp4 MoE kernels pad the intermediate dim to 256
        experts = arch.num_experts * 3 * h * moe_inter / float(tp)
        total += _linear_bytes(experts, quant, dtype_bytes, True)
        if arch.shared_expert_intermediate_size:
            shared = 3 * h * arch.shared_expert_intermediate_size / float(tp)
            total += _linear_bytes(shared, quant, dtype_bytes, False)
        total += h * arch.num_experts * dtype_bytes  # router, replicated, unquantised
    else:
        total += _linear_bytes(3 * h * arch.intermediate_size / float(tp), quant, dtype_bytes, False)
    total += 4 * h * dtype_bytes  # norms
    return total


def arch_weight_bytes(arch: ModelArch, tp: int, pp: int, dtype_bytes: int) -> list[StageWeights]:
    """Weight bytes of each pipeline stage on one TP rank, from the architecture alone."""
    padded_vocab = _cdiv(arch.vocab_size, VOCAB_PADDING) * VOCAB_PADDING
    embed = padded_vocab / float(tp) * arch.hidden_size * dtype_bytes
    rope_dim = arch.qk_rope_head_dim if arch.is_mla else arch.head_dim
    rope = arch.derived_max_model_len * rope_dim * dtype_bytes  # cos/sin cache buffer
    stages = []
    parts = pp_partition(arch.num_layers, pp)
    for index, (start, count) in enumerate(parts):
        total = sum(_layer_bytes(arch, layer, tp, dtype_bytes) for layer in range(start, start + count)) + rope
        if index == 0:
            total += embed + arch.vision_params / float(tp) * dtype_bytes
        if index == len(parts) - 1:
            total += arch.hidden_size * dtype_bytes
            if not arch.tie_word_embeddings or pp > 1:
                total += embed
        stages.append(StageWeights(start, count, int(total)))
    return stages


def weight_bytes(
    arch: ModelArch, tp: int, pp: int, dtype_bytes: int, checkpoint_bytes: int | None = None
) -> tuple[list[StageWeights], str]:
    """Per-stage weights on one rank, and where the number came from.

    With the safetensors total (index or headers) the architecture split is scaled to the exact
    checkpoint size, so sharding and replication still follow the architecture.
    """
    stages = arch_weight_bytes(arch, tp, pp, dtype_bytes)
    if not checkpoint_bytes:
        return stages, "estimated from config.json (architecture x dtype/quantization)"
    whole = sum(s.bytes for s in arch_weight_bytes(arch, 1, 1, dtype_bytes))
    ckpt = float(checkpoint_bytes)
    if arch.quant is None and arch.torch_dtype in ("float32", "float") and dtype_bytes == 2:
        ckpt /= 2.0
    ratio = ckpt / whole if whole else 1.0
    if not 0.8 <= ratio <= 1.25:
        return stages, (
            "estimated from config.json; the safetensors total (%d bytes) was %.2fx the architecture "
            "and was not used (extra tensors such as MTP layers, or another dtype)" % (checkpoint_bytes, ratio)
        )
    return [StageWeights(s.first_layer, s.num_layers, int(s.bytes * ratio)) for s in stages], (
        "safetensors size (%d bytes), split by the architecture" % (checkpoint_bytes,)
    )
