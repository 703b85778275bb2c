# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Dtype and quantisation tables (data, not if/elif chains)."""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError

# Bytes per element of the model dtype (vLLM --dtype / config.json torch_dtype).
DTYPE_BYTES = {
    "float32": 4,
    "float": 4,
    "float16": 2,
    "half": 2,
    "bfloat16": 2,
}

# --kv-cache-dtype values vLLM accepts (vllm/config/cache.py CacheDType) -> bytes per element.
# "auto" follows the model dtype. fp8_ds_mla is DeepSeek sparse MLA: 656 bytes per token per layer.
KV_CACHE_DTYPE_BYTES = {
    "auto": None,
    "bfloat16": 2,
    "float16": 2,
    "fp8": 1,
    "fp8_e4m3": 1,
    "fp8_e5m2": 1,
    "fp8_inc": 1,
    "fp8_ds_mla": 1,
}
FP8_DS_MLA_BYTES_PER_TOKEN = 656


@dataclass(frozen=True)
class QuantMethod:
    """How a quantisation method stores linear-layer weights.

    ``bits``: weight bits; ``group_size``: elements per scale group (0 = per output channel);
    ``scale_bits``/``zero_bits``: bits of scale and zero point per group; ``experts_only``: only the
    MoE expert weights are quantised (mxfp4 in gpt-oss); ``tp_align``: the per-rank input or
    output dimension must be a multiple of this after the TP split (Marlin kernels need 64/128).
    """

    name: str
    bits: float
    group_size: int
    scale_bits: int
    zero_bits: int
    experts_only: bool = False
    tp_align: int = 0


# Defaults per method; the model's quantization_config refines bits/group_size.
QUANT_METHODS = {
    "awq": QuantMethod("awq", 4, 128, 16, 4, tp_align=64),
    "awq_marlin": QuantMethod("awq_marlin", 4, 128, 16, 4, tp_align=64),
    "gptq": QuantMethod("gptq", 4, 128, 16, 4, tp_align=64),
    "gptq_marlin": QuantMethod("gptq_marlin", 4, 128, 16, 4, tp_align=64),
    "fp8": QuantMethod("fp8", 8, 0, 32, 0),
    "fbgemm_fp8": QuantMethod("fbgemm_fp8", 8, 0, 32, 0),
    "compressed-tensors": QuantMethod("compressed-tensors", 8, 0, 16, 0),
    "bitsandbytes": QuantMethod("bitsandbytes", 4, 64, 32, 0),
    "mxfp4": QuantMethod("mxfp4", 4, 32, 8, 0, experts_only=True),
    "modelopt": QuantMethod("modelopt", 8, 0, 32, 0),
    "modelopt_fp4": QuantMethod("modelopt_fp4", 4, 16, 8, 0),
    "experts_int8": QuantMethod("experts_int8", 8, 0, 16, 0, experts_only=True),
}


def dtype_bytes(dtype: str, what: str = "dtype") -> int:
    key = str(dtype).replace("torch.", "").lower()
    if key not in DTYPE_BYTES:
        raise LlmopsError(
            "%s=%r is not a dtype vLLM serves with; valid: %s" % (what, dtype, sorted(DTYPE_BYTES))
        )
    return DTYPE_BYTES[key]


def kv_cache_dtype_bytes(kv_cache_dtype: str | None, model_dtype_bytes: int) -> int:
    key = "auto" if kv_cache_dtype in (None, "") else str(kv_cache_dtype).lower()
    if key not in KV_CACHE_DTYPE_BYTES:
        raise LlmopsError(
            "kv_cache_dtype=%r is not accepted by vLLM; valid: %s" % (kv_cache_dtype, sorted(KV_CACHE_DTYPE_BYTES))
        )
    size = KV_CACHE_DTYPE_BYTES[key]
    return model_dtype_bytes if size is None else size


def quant_method(name: str) -> QuantMethod:
    key = str(name).lower()
    if key not in QUANT_METHODS:
        raise LlmopsError(
            "quantization=%r is not one this collection can size; valid: %s (or leave it unset to "
            "read quantization_config from config.json)" % (name, sorted(QUANT_METHODS))
        )
    return QUANT_METHODS[key]
