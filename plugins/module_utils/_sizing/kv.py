# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""KV-cache specs, one class per attention kind, as in vLLM ``v1/kv_cache_interface.py``,
and the block arithmetic of ``v1/core/kv_cache_utils.py``:

* page_size_bytes: FullAttention/SlidingWindow/ChunkedLocal = 2 x block x kv_heads x head x dtype;
  MLA = block x 1 x (kv_lora_rank + qk_rope_head_dim) x dtype (fp8_ds_mla: block x 656).
* groups: one group when every layer has the same spec; otherwise layers of each type are
  split into groups of ``group_size`` layers (min layers of a type, or max when max < 1.5 x min),
  padding the last group (``_get_kv_cache_groups_uniform_page_size``).
* num_blocks = available // page_size // group_size (``get_num_blocks``), min over workers.
* "GPU KV cache size" = num_blocks // len(groups) x block_size (``_report_kv_cache_config``).
* max memory of one request (``max_memory_usage_bytes``) drives the max_model_len check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing.arch import (
    CHUNKED,
    FULL,
    LINEAR,
    SLIDING,
    ModelArch,
)
from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing.dtypes import FP8_DS_MLA_BYTES_PER_TOKEN


def cdiv(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class FullAttentionSpec:
    block_size: int
    num_kv_heads: int
    head_size: int
    dtype_bytes: int
    head_size_v: int = 0

    @property
    def page_size_bytes(self) -> int:
        v = self.head_size_v or self.head_size
        return self.block_size * self.num_kv_heads * (self.head_size + v) * self.dtype_bytes

    def max_memory_usage_bytes(self, max_model_len: int, max_num_batched_tokens: int) -> int:
        return cdiv(max_model_len, self.block_size) * self.page_size_bytes


@dataclass(frozen=True)
class SlidingWindowSpec(FullAttentionSpec):
    sliding_window: int = 0

    def max_memory_usage_bytes(self, max_model_len: int, max_num_batched_tokens: int) -> int:
        tokens = min(self.sliding_window - 1 + max_num_batched_tokens, max_model_len)
        return (cdiv(tokens, self.block_size) + 1) * self.page_size_bytes


@dataclass(frozen=True)
class ChunkedLocalAttentionSpec(FullAttentionSpec):
    attention_chunk_size: int = 0

    def max_memory_usage_bytes(self, max_model_len: int, max_num_batched_tokens: int) -> int:
        tokens = min(self.attention_chunk_size + max_num_batched_tokens, max_model_len)
        return cdiv(tokens, self.block_size) * self.page_size_bytes


@dataclass(frozen=True)
class MLAAttentionSpec(FullAttentionSpec):
    ds_mla: bool = False

    @property
    def page_size_bytes(self) -> int:
        if self.ds_mla:
            return self.block_size * FP8_DS_MLA_BYTES_PER_TOKEN
        return self.block_size * self.num_kv_heads * self.head_size * self.dtype_bytes


@dataclass(frozen=True)
class MambaSpec:
    """Constant per-sequence state of a linear-attention (gated-delta-net) layer, padded to the
    attention page (vLLM unifies the page sizes of hybrid models). With prefix caching vLLM keeps
    ``mamba_cache_mode="align"``: two pages per request, otherwise one."""

    block_size: int
    page_bytes: int
    pages_per_request: int = 2

    @property
    def page_size_bytes(self) -> int:
        return self.page_bytes

    def max_memory_usage_bytes(self, max_model_len: int, max_num_batched_tokens: int) -> int:
        return self.page_bytes * self.pages_per_request


def gdn_state_bytes(arch: ModelArch, tp: int, state_dtype_bytes: int) -> int:
    """MambaStateShapeCalculator.gated_delta_net_state_shape: conv state (conv_dim/tp, kernel-1) in the
    model dtype + temporal state (v_heads/tp, v_dim, k_dim) in float32."""
    conv_dim = arch.gdn_k_dim * arch.gdn_k_heads * 2 + arch.gdn_v_dim * arch.gdn_v_heads
    conv = (conv_dim // tp) * (arch.gdn_conv_kernel - 1) * state_dtype_bytes
    temporal = (arch.gdn_v_heads // tp) * arch.gdn_v_dim * arch.gdn_k_dim * 4
    return conv + temporal


def hybrid_attention_block_size(per_token_page: int, mamba_page: int, align: int = 16) -> int:
    """HybridAttentionMambaModelConfig: the smallest multiple of ``align`` tokens whose attention page
    is at least the mamba page ("Setting attention block size to N tokens ...")."""
    return align * cdiv(mamba_page, align * per_token_page)


@dataclass(frozen=True)
class KVGroup:
    spec: FullAttentionSpec
    layers: int  # real layers in the group (<= group_size, the rest is padding)


@dataclass(frozen=True)
class KVLayout:
    groups: tuple[KVGroup, ...]
    group_size: int
    block_size: int

    @property
    def page_size_bytes(self) -> int:
        return self.groups[0].spec.page_size_bytes if self.groups else 0

    def num_blocks(self, available_bytes: int) -> int:
        if not self.groups or available_bytes <= 0:
            return 0
        return int(available_bytes // self.page_size_bytes // self.group_size)

    def tokens(self, num_blocks: int) -> int:
        if not self.groups:
            return 0
        return num_blocks // len(self.groups) * self.block_size

    def bytes_per_token(self) -> float:
        """Bytes of KV memory one token of the reported "GPU KV cache size" costs."""
        if not self.groups:
            return 0.0
        return self.page_size_bytes * self.group_size * len(self.groups) / float(self.block_size)

    def max_memory_usage_bytes(self, max_model_len: int, max_num_batched_tokens: int) -> int:
        """``_max_memory_usage_bytes_from_groups``: KV bytes one request of max_model_len needs."""
        if not self.groups:
            return 0
        if len(self.groups) == 1:
            return self.groups[0].layers * self.groups[0].spec.max_memory_usage_bytes(max_model_len, max_num_batched_tokens)
        page = self.page_size_bytes
        blocks = sum(cdiv(g.spec.max_memory_usage_bytes(max_model_len, max_num_batched_tokens), page) for g in self.groups)
        return self.group_size * page * blocks

    def max_concurrency(self, num_blocks: int, max_model_len: int, max_num_batched_tokens: int) -> float:
        """``get_max_concurrency_for_kv_cache_config``."""
        if not self.groups:
            return 0.0
        per_request = self.group_size * sum(
            g.spec.max_memory_usage_bytes(max_model_len, max_num_batched_tokens) for g in self.groups
        )
        per_block = self.page_size_bytes * self.group_size
        blocks_per_request = cdiv(per_request, per_block)
        return num_blocks / float(blocks_per_request) if blocks_per_request else 0.0

    def estimate_max_model_len(self, available_bytes: int, upper: int, max_num_batched_tokens: int) -> int:
        """Binary search of ``_estimate_max_model_len_from_groups`` (0 when one token does not fit)."""
        if self.max_memory_usage_bytes(1, max_num_batched_tokens) > available_bytes:
            return 0
        low, high, best = 1, upper, 1
        while low <= high:
            mid = (low + high) // 2
            if self.max_memory_usage_bytes(mid, max_num_batched_tokens) <= available_bytes:
                best, low = mid, mid + 1
            else:
                high = mid - 1
        return best


def layer_spec(arch: ModelArch, kind: str, tp: int, kv_bytes: int, block_size: int, ds_mla: bool = False):
    if arch.is_mla:
        return MLAAttentionSpec(
            block_size=block_size,
            num_kv_heads=1,
            head_size=arch.kv_lora_rank + arch.qk_rope_head_dim,
            dtype_bytes=kv_bytes,
            ds_mla=ds_mla,
        )
    kv_heads = max(1, arch.num_kv_heads // tp)
    common = dict(block_size=block_size, num_kv_heads=kv_heads, head_size=arch.head_dim, dtype_bytes=kv_bytes,
                  head_size_v=arch.head_dim)
    if kind == SLIDING:
        return SlidingWindowSpec(sliding_window=arch.sliding_window, **common)
    if kind == CHUNKED:
        return ChunkedLocalAttentionSpec(attention_chunk_size=arch.attention_chunk_size, **common)
    return FullAttentionSpec(**common)


def build_layout(specs: Sequence[FullAttentionSpec], block_size: int) -> KVLayout:
    """Group per-layer specs the way ``get_kv_cache_groups`` does (hybrid manager enabled)."""
    if not specs:
        return KVLayout((), 0, block_size)
    by_spec: dict[FullAttentionSpec, int] = {}
    for spec in specs:
        by_spec[spec] = by_spec.get(spec, 0) + 1
    if len(by_spec) == 1:
        spec = specs[0]
        return KVLayout((KVGroup(spec, len(specs)),), len(specs), block_size)
    counts = list(by_spec.values())
    group_size = min(counts)
    if max(counts) < group_size * 1.5:
        group_size = max(counts)
    groups: list[KVGroup] = []
    for spec, count in by_spec.items():
        full, rest = divmod(count, group_size)
        groups.extend([KVGroup(spec, group_size)] * full)
        if rest:
            groups.append(KVGroup(spec, rest))
    return KVLayout(tuple(groups), group_size, block_size)


def stage_layout(arch: ModelArch, first: int, count: int, tp: int, kv_bytes: int, block_size: int,
                 ds_mla: bool = False, state_bytes: int = 2, mamba_pages: int = 2) -> KVLayout:
    """Layout of one pipeline stage (its layers only), grouped as vLLM projects global groups."""
    kinds = list(arch.layer_types[first:first + count])
    if arch.is_gdn:
        per_token = layer_spec(arch, FULL, tp, kv_bytes, 1).page_size_bytes
        mamba_page = gdn_state_bytes(arch, tp, state_bytes)
        block_size = max(block_size, hybrid_attention_block_size(per_token, mamba_page))
        attn_page = per_token * block_size
        mamba = MambaSpec(block_size=block_size, page_bytes=max(attn_page, mamba_page), pages_per_request=mamba_pages)
        specs = [mamba if k == LINEAR else layer_spec(arch, k, tp, kv_bytes, block_size, ds_mla) for k in kinds]
        return build_layout(specs, block_size)
    specs = [layer_spec(arch, kind, tp, kv_bytes, block_size, ds_mla) for kind in kinds if kind != LINEAR]
    return build_layout(specs, block_size)


def kv_bytes_per_token_per_gpu(arch: ModelArch, tp: int, pp: int, kv_bytes: int) -> int:
    """Physical KV bytes one token costs on the busiest GPU (all its attention layers)."""
    kinds = [k for k in arch.layer_types if k != LINEAR]
    per_stage = cdiv(len(kinds), pp)
    spec = layer_spec(arch, FULL, tp, kv_bytes, 1)
    return per_stage * spec.page_size_bytes
