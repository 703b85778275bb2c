# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Normalise a Hugging Face config.json into one frozen ModelArch record.

Follows the alias handling of vLLM's ``model_arch_config_convertor.py`` /
``ModelConfig.get_num_kv_heads`` / ``_get_and_verify_max_len``: every alias is read once here,
nothing downstream looks at the raw dict.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing.dtypes import (
    QUANT_METHODS,
    QuantMethod,
)

FULL = "full"
SLIDING = "sliding"
CHUNKED = "chunked"
LINEAR = "linear"  # mamba / gated-delta-net / linear attention: constant state, not paged per token

# vLLM _get_and_verify_max_len: the smallest of these keys is the derived max_model_len.
_MAX_LEN_KEYS = (
    "max_position_embeddings",
    "n_positions",
    "max_seq_len",
    "seq_length",
    "model_max_length",
    "max_sequence_length",
    "max_seq_length",
    "seq_len",
)
_LAYER_KEYS = ("num_hidden_layers", "n_layer", "num_layers", "n_layers")
_HIDDEN_KEYS = ("hidden_size", "n_embd", "d_model", "dim")
_HEADS_KEYS = ("num_attention_heads", "n_head", "num_heads", "n_heads")
_KV_HEADS_KEYS = ("num_key_value_heads", "n_head_kv", "num_kv_heads", "multi_query_group_num", "n_kv_heads")
_INTER_KEYS = ("intermediate_size", "ffn_hidden_size", "n_inner", "ffn_dim")
_EXPERT_KEYS = ("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts")

# Class defaults of transformers configs for fields real config.json files leave out
# (e.g. Gemma3TextConfig: vocab_size=262208, max_position_embeddings=131072, tied embeddings).
_MODEL_TYPE_DEFAULTS = {
    "gemma3_text": {"vocab_size": 262208, "max_position_embeddings": 131072, "sliding_window_pattern": 6,
                    "tie_word_embeddings": True, "head_dim": 256},
    "gemma2": {"tie_word_embeddings": True},
    "gemma": {"tie_word_embeddings": True},
}


@dataclass(frozen=True)
class QuantConfig:
    method: QuantMethod
    bits: float
    group_size: int
    weight_block: tuple[int, int] = (0, 0)  # fp8 block quantisation [n, k]
    source: str = "config.json"


@dataclass(frozen=True)
class ModelArch:
    model_type: str
    architectures: tuple[str, ...]
    num_layers: int
    hidden_size: int
    num_attention_heads: int
    num_kv_heads: int
    head_dim: int
    v_head_dim: int
    intermediate_size: int
    vocab_size: int
    tie_word_embeddings: bool
    torch_dtype: str
    derived_max_model_len: int
    max_len_key: str
    layer_types: tuple[str, ...]
    sliding_window: int = 0
    attention_chunk_size: int = 0
    # MoE
    num_experts: int = 0
    num_experts_per_tok: int = 0
    moe_intermediate_size: int = 0
    shared_expert_intermediate_size: int = 0
    num_dense_layers: int = 0
    # MLA
    kv_lora_rank: int = 0
    q_lora_rank: int = 0
    qk_rope_head_dim: int = 0
    qk_nope_head_dim: int = 0
    # gated-delta-net linear attention (Qwen3-Next / Qwen3.5 / Qwen3.6 hybrids)
    gdn_k_heads: int = 0
    gdn_v_heads: int = 0
    gdn_k_dim: int = 0
    gdn_v_dim: int = 0
    gdn_conv_kernel: int = 0
    attn_output_gate: bool = False
    # multimodal encoder (approximate parameter count of the vision tower + projector)
    vision_params: int = 0
    quant: QuantConfig | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_mla(self) -> bool:
        return self.kv_lora_rank > 0

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0

    @property
    def is_multimodal(self) -> bool:
        return self.vision_params > 0

    @property
    def is_gdn(self) -> bool:
        return self.gdn_v_heads > 0 and LINEAR in self.layer_types

    @property
    def attention_layers(self) -> int:
        return sum(1 for t in self.layer_types if t != LINEAR)


def _first(cfg: dict[str, Any], keys, default=None):
    for key in keys:
        if cfg.get(key) is not None:
            return cfg[key]
    return default


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value or value <= 0:
        raise LlmopsError("config.json field %s=%r must be a positive integer" % (name, value))
    return int(value)


def _derived_max_len(cfg: dict[str, Any], text: dict[str, Any]) -> tuple[int, str]:
    best = None
    best_key = ""
    for key in _MAX_LEN_KEYS:
        for src in (text, cfg):
            value = src.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
                if best is None or value < best:
                    best, best_key = int(value), key
                break
    if best is None:
        best, best_key = 2048, "default"
    rope = text.get("rope_scaling") or cfg.get("rope_scaling") or text.get("rope_parameters")
    model_type = str(text.get("model_type") or cfg.get("model_type") or "")
    if isinstance(rope, dict) and "gemma3" not in model_type:
        rope_type = rope.get("rope_type", rope.get("type"))
        if rope_type not in ("su", "longrope", "llama3", "default", None):
            factor = 1.0 if "mrope_section" in rope else float(rope.get("factor", 1.0))
            if rope_type == "yarn" and rope.get("original_max_position_embeddings"):
                best = int(rope["original_max_position_embeddings"])
            best = int(best * factor)
    return best, best_key


def _quant(cfg: dict[str, Any], text: dict[str, Any]) -> QuantConfig | None:
    qc = cfg.get("quantization_config") or text.get("quantization_config") or cfg.get("compression_config")
    if not qc:
        return None
    method = str(qc.get("quant_method", "")).lower()
    if qc.get("load_in_4bit") or qc.get("_load_in_4bit"):
        method = "bitsandbytes"
    if method == "bitsandbytes" and (qc.get("load_in_8bit") or qc.get("_load_in_8bit")):
        return QuantConfig(QUANT_METHODS["bitsandbytes"], 8, 0)
    if method not in QUANT_METHODS:
        raise LlmopsError(
            "config.json quantization_config.quant_method=%r is not one this collection can size; "
            "valid: %s" % (method, sorted(QUANT_METHODS))
        )
    spec = QUANT_METHODS[method]
    bits = float(qc.get("bits", qc.get("w_bit", spec.bits)))
    group = int(qc.get("group_size", qc.get("q_group_size", spec.group_size)) or 0)
    group = max(group, 0)
    block = (0, 0)
    if method == "fp8" and qc.get("weight_block_size"):
        wbs = qc["weight_block_size"]
        block = (int(wbs[0]), int(wbs[1]))
    if method == "compressed-tensors":
        groups = qc.get("config_groups") or {}
        for grp in groups.values():
            weights = (grp or {}).get("weights") or {}
            if weights.get("num_bits"):
                bits = float(weights["num_bits"])
                group = int(weights.get("group_size") or 0)
                if weights.get("block_structure"):
                    bs = weights["block_structure"]
                    block = (int(bs[0]), int(bs[1]))
                break
    if method == "modelopt" and "fp4" in str(qc.get("quant_algo", "")).lower():
        spec = QUANT_METHODS["modelopt_fp4"]
        bits, group = 4, int(qc.get("group_size") or 16)
    return QuantConfig(spec, bits, group, block)


def _layer_types(cfg: dict[str, Any], text: dict[str, Any], num_layers: int) -> tuple[tuple[str, ...], int, int]:
    model_type = str(text.get("model_type") or cfg.get("model_type") or "")
    sliding = text.get("sliding_window")
    if text.get("use_sliding_window") is False:
        sliding = None
    sliding = int(sliding) if isinstance(sliding, (int, float)) and sliding and sliding > 0 else 0
    chunk = int(text.get("attention_chunk_size") or 0)
    explicit = text.get("layer_types")
    if isinstance(explicit, list) and len(explicit) == num_layers:
        out = []
        for kind in explicit:
            kind = str(kind)
            if "linear" in kind or "mamba" in kind or "conv" in kind:
                out.append(LINEAR)
            elif "sliding" in kind and sliding:
                out.append(SLIDING)
            elif "chunk" in kind and chunk:
                out.append(CHUNKED)
            else:
                out.append(FULL)
        return tuple(out), sliding, chunk
    interval = text.get("full_attention_interval")
    if isinstance(interval, int) and interval > 1 and text.get("linear_num_value_heads"):
        return tuple(FULL if (i + 1) % interval == 0 else LINEAR for i in range(num_layers)), 0, 0
    if model_type.startswith("gemma3") and sliding:
        pattern = int(text.get("sliding_window_pattern") or 6)
        return tuple(FULL if (i + 1) % pattern == 0 else SLIDING for i in range(num_layers)), sliding, 0
    if model_type in ("gemma2",) and sliding:
        return tuple(SLIDING if i % 2 == 0 else FULL for i in range(num_layers)), sliding, 0
    if model_type.startswith("cohere2") and sliding:
        pattern = int(text.get("sliding_window_pattern") or 4)
        return tuple(FULL if (i + 1) % pattern == 0 else SLIDING for i in range(num_layers)), sliding, 0
    if model_type.startswith("llama4") and chunk:
        interval = int(text.get("no_rope_layer_interval") or 4)
        return tuple(FULL if (i + 1) % interval == 0 else CHUNKED for i in range(num_layers)), 0, chunk
    if sliding and model_type in ("mistral", "mixtral", "qwen2", "qwen2_moe", "phi3", "starcoder2"):
        max_window = text.get("max_window_layers")
        if model_type.startswith("qwen2") and isinstance(max_window, int) and max_window < num_layers:
            return tuple(FULL if i < max_window else SLIDING for i in range(num_layers)), sliding, 0
        return (SLIDING,) * num_layers, sliding, 0
    return (FULL,) * num_layers, 0, 0


def _vision_params(cfg: dict[str, Any]) -> int:
    vc = cfg.get("vision_config")
    if not isinstance(vc, dict):
        return 0
    hidden = int(vc.get("hidden_size") or vc.get("embed_dim") or vc.get("width") or 0)
    layers = int(vc.get("num_hidden_layers") or vc.get("depth") or vc.get("layers") or 0)
    inter = int(vc.get("intermediate_size") or (hidden * 4 if hidden else 0))
    if not hidden or not layers:
        return 0
    gated = str(vc.get("hidden_act") or "").lower() in ("silu", "swiglu")  # Qwen2.5-VL: SwiGLU blocks
    per_layer = 4 * hidden * hidden + (3 if gated else 2) * hidden * inter + 4 * hidden
    patch = int(vc.get("patch_size") or 14)
    chans = int(vc.get("num_channels") or vc.get("in_chans") or 3)
    temporal = int(vc.get("temporal_patch_size") or 1)
    embed = chans * patch * patch * temporal * hidden
    text_hidden = int((cfg.get("text_config") or {}).get("hidden_size") or cfg.get("hidden_size") or hidden)
    out_hidden = int(vc.get("out_hidden_size") or text_hidden)
    projector = hidden * 4 * hidden + hidden * 4 * out_hidden
    return layers * per_layer + embed + projector


def normalize_config(cfg: dict[str, Any]) -> ModelArch:
    """Turn a config.json dict into a ModelArch; raise LlmopsError naming what is missing."""
    if not isinstance(cfg, dict) or not cfg:
        raise LlmopsError("model_config must be the dict of a config.json; got %r" % (type(cfg).__name__,))
    text = cfg.get("text_config") or cfg.get("llm_config") or cfg.get("language_config") or cfg
    if not isinstance(text, dict):
        text = cfg
    defaults = _MODEL_TYPE_DEFAULTS.get(str(text.get("model_type") or ""))
    if defaults:
        text = dict(defaults, **{k: v for k, v in text.items() if v is not None})
    notes = []
    num_layers = _positive_int(_first(text, _LAYER_KEYS), "num_hidden_layers")
    hidden = _positive_int(_first(text, _HIDDEN_KEYS), "hidden_size")
    heads = _positive_int(_first(text, _HEADS_KEYS), "num_attention_heads")
    kv_heads = _first(text, _KV_HEADS_KEYS)
    if kv_heads is None:
        kv_heads = 1 if text.get("multi_query") else heads
    kv_heads = _positive_int(kv_heads, "num_key_value_heads")
    head_dim = text.get("head_dim") or text.get("attention_head_dim") or (hidden // heads)
    head_dim = _positive_int(head_dim, "head_dim")
    vocab = _positive_int(_first(text, ("vocab_size", "padded_vocab_size"), _first(cfg, ("vocab_size",))), "vocab_size")
    inter = _first(text, _INTER_KEYS)
    inter = int(inter) if inter else 4 * hidden
    tie = text.get("tie_word_embeddings", cfg.get("tie_word_embeddings", False))
    dtype = str(cfg.get("torch_dtype") or text.get("torch_dtype") or cfg.get("dtype") or text.get("dtype") or "bfloat16")
    dtype = dtype.replace("torch.", "")
    max_len, max_key = _derived_max_len(cfg, text)
    layer_types, sliding, chunk = _layer_types(cfg, text, num_layers)

    experts = int(_first(text, _EXPERT_KEYS, 0) or 0)
    moe_inter = int(text.get("moe_intermediate_size") or (inter if experts else 0))
    shared = int(text.get("shared_expert_intermediate_size") or 0)
    if not shared and text.get("n_shared_experts"):
        shared = int(text["n_shared_experts"]) * moe_inter
    dense = int(text.get("first_k_dense_replace") or 0)
    if experts and text.get("mlp_only_layers"):
        dense = len(text["mlp_only_layers"])

    gdn_v = int(text.get("linear_num_value_heads") or 0)
    if LINEAR in layer_types and not gdn_v:
        notes.append(
            "%d of %d layers are linear-attention/Mamba layers: their constant per-sequence state and vLLM's "
            "page-size unification are not modelled, so KV tokens are a rough estimate for this model"
            % (layer_types.count(LINEAR), num_layers)
        )
    kv_lora = int(text.get("kv_lora_rank") or 0)
    v_head = int(text.get("v_head_dim") or head_dim)
    if kv_lora:
        head_dim = kv_lora + int(text.get("qk_rope_head_dim") or 0)  # vLLM get_head_size() for MLA
    if kv_lora:
        notes.append("MLA: one latent KV head of kv_lora_rank + qk_rope_head_dim, not split by TP")

    return ModelArch(
        model_type=str(text.get("model_type") or cfg.get("model_type") or "unknown"),
        architectures=tuple(cfg.get("architectures") or text.get("architectures") or ()),
        num_layers=num_layers,
        hidden_size=hidden,
        num_attention_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=head_dim,
        v_head_dim=v_head,
        intermediate_size=inter,
        vocab_size=vocab,
        tie_word_embeddings=bool(tie),
        torch_dtype=dtype,
        derived_max_model_len=max_len,
        max_len_key=max_key,
        layer_types=layer_types,
        sliding_window=sliding,
        attention_chunk_size=chunk,
        num_experts=experts,
        num_experts_per_tok=int(text.get("num_experts_per_tok") or text.get("experts_per_token") or text.get("moe_topk") or 0),
        moe_intermediate_size=moe_inter,
        shared_expert_intermediate_size=shared,
        num_dense_layers=dense,
        kv_lora_rank=kv_lora,
        q_lora_rank=int(text.get("q_lora_rank") or 0),
        qk_rope_head_dim=int(text.get("qk_rope_head_dim") or 0),
        qk_nope_head_dim=int(text.get("qk_nope_head_dim") or 0),
        gdn_k_heads=int(text.get("linear_num_key_heads") or 0),
        gdn_v_heads=gdn_v,
        gdn_k_dim=int(text.get("linear_key_head_dim") or 0),
        gdn_v_dim=int(text.get("linear_value_head_dim") or 0),
        gdn_conv_kernel=int(text.get("linear_conv_kernel_dim") or 4),
        attn_output_gate=bool(text.get("attn_output_gate", str(text.get("model_type", "")).startswith(("qwen3_next", "qwen3_5")))),
        vision_params=_vision_params(cfg),
        quant=_quant(cfg, text),
        notes=tuple(notes),
    )


def load_model_dir(path: str) -> tuple[dict[str, Any], int | None]:
    """Read ``config.json`` and, when present, the safetensors index total_size (exact bytes)."""
    cfg_path = os.path.join(path, "config.json")
    if not os.path.isfile(cfg_path):
        raise LlmopsError(
            "model_path=%r holds no config.json; point it at the model directory (the one with "
            "config.json and *.safetensors) or pass model_config as a dict" % (path,)
        )
    try:
        with open(cfg_path, encoding="utf-8") as handle:
            cfg = json.load(handle)
    except ValueError as err:
        raise LlmopsError("model_path=%r: config.json is not valid JSON (%s)" % (path, err)) from err
    total = None
    index = os.path.join(path, "model.safetensors.index.json")
    if os.path.isfile(index):
        try:
            with open(index, encoding="utf-8") as handle:
                meta = json.load(handle).get("metadata") or {}
            if meta.get("total_size"):
                total = int(meta["total_size"])
        except ValueError as err:
            raise LlmopsError("model_path=%r: model.safetensors.index.json is not valid JSON (%s)" % (path, err)) from err
    if total is None:
        total = _safetensors_header_bytes(path)
    return cfg, total


def _safetensors_header_bytes(path: str) -> int | None:
    """Sum tensor byte ranges from *.safetensors headers (first 8 bytes = header length)."""
    total = 0
    found = False
    for name in sorted(os.listdir(path)):
        if not name.endswith(".safetensors"):
            continue
        try:
            with open(os.path.join(path, name), "rb") as handle:
                length = int.from_bytes(handle.read(8), "little")
                if length <= 0 or length > 100 * 1024 * 1024:
                    continue
                header = json.loads(handle.read(length).decode("utf-8"))
        except (OSError, ValueError):
            continue
        for key, meta in header.items():
            if key == "__metadata__" or not isinstance(meta, dict):
                continue
            start, end = meta.get("data_offsets", (0, 0))
            total += int(end) - int(start)
            found = True
    return total if found else None
