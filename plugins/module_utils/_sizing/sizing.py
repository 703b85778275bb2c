# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sizing entry point shared by the vllm_sizing module, the filters and the benchmark."""

from __future__ import annotations

from typing import Any

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing import GIB
from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing import arch as arch_mod
from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing import dtypes, gpus, kv, memory, parallel, releases, weights

BLOCK_SIZES = (1, 8, 16, 32, 64, 128)
CUDA_CONTEXT = int(0.51 * GIB)  # measured on an H200: free 139.29 of 139.80 GiB right after cuCtxCreate
DOCS = "See https://docs.vllm.ai/en/latest/configuration/conserving_memory/ for more details."
# vLLM's quantization names that are the same checkpoint format with another kernel.
_EQUIVALENT = {"awq_marlin": "awq", "gptq_marlin": "gptq", "fbgemm_fp8": "fp8"}


def _gib(value: float) -> float:
    return round(value / float(GIB), 2)


def _check_int(value, name: str, allow_minus_one: bool = False) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise LlmopsError("%s=%r must be an integer" % (name, value))
    if allow_minus_one and value == -1:
        return value
    if value <= 0:
        hint = " (or -1 to let vLLM fit the largest length)" if allow_minus_one else ""
        raise LlmopsError("%s=%r must be a positive integer%s" % (name, value, hint))
    return value


def load_arch(model_path: str | None = None, model_config: dict[str, Any] | None = None):
    if model_path and model_config:
        raise LlmopsError("give model_path or model_config, not both")
    if model_path:
        cfg, ckpt = arch_mod.load_model_dir(model_path)
        return arch_mod.normalize_config(cfg), ckpt
    if model_config is None:
        raise LlmopsError("one of model_path (directory with config.json) or model_config (its dict) is required")
    if isinstance(model_config, _ArchConfig):
        return model_config.arch, None
    return arch_mod.normalize_config(model_config), None


def apply_quantization(arch, quantization: str | None):
    if not quantization:
        return arch
    wanted = dtypes.quant_method(quantization)
    if arch.quant is not None:
        have = _EQUIVALENT.get(arch.quant.method.name, arch.quant.method.name)
        if _EQUIVALENT.get(wanted.name, wanted.name) != have:
            raise LlmopsError(
                "Quantization method specified in the model config (%s) does not match the quantization "
                "method specified in the `quantization` argument (%s)." % (arch.quant.method.name, wanted.name)
            )
        return arch
    if wanted.name in ("fp8", "bitsandbytes", "experts_int8"):
        from dataclasses import replace

        return replace(arch, quant=arch_mod.QuantConfig(wanted, wanted.bits, wanted.group_size, source="online"))
    raise LlmopsError(
        "quantization=%r needs a checkpoint quantized with %s (its config.json has no quantization_config); "
        "only fp8, bitsandbytes and experts_int8 quantize an unquantized checkpoint at load time" % (quantization, quantization)
    )


def size_model(
    model_path: str | None = None,
    model_config: dict[str, Any] | None = None,
    gpu_model: str | None = None,
    gpu_memory_gib: float | None = None,
    tensor_parallel_size: int = 1,
    pipeline_parallel_size: int = 1,
    gpu_memory_utilization: float | None = None,
    max_model_len: int | None = None,
    max_num_seqs: int | None = None,
    max_num_batched_tokens: int | None = None,
    kv_cache_dtype: str | None = None,
    quantization: str | None = None,
    dtype: str | None = None,
    block_size: int | None = None,
    vllm_version: str | None = None,
    enforce_eager: bool = False,
    checkpoint_bytes: int | None = None,
    _recommend: bool = True,
) -> dict[str, Any]:
    """Predict what vLLM will print at startup and whether it starts. Raises LlmopsError on bad input."""
    rel = releases.release(vllm_version)
    tp = _check_int(tensor_parallel_size, "tensor_parallel_size") or 1
    pp = _check_int(pipeline_parallel_size, "pipeline_parallel_size") or 1
    util = rel.gpu_memory_utilization if gpu_memory_utilization is None else gpu_memory_utilization
    if isinstance(util, bool) or not isinstance(util, (int, float)) or not 0 < util <= 1:
        raise LlmopsError(
            "gpu_memory_utilization=%r must be a fraction in (0, 1], e.g. %s (vLLM's default)"
            % (gpu_memory_utilization, rel.gpu_memory_utilization)
        )
    max_model_len = _check_int(max_model_len, "max_model_len", allow_minus_one=True)
    max_num_seqs = _check_int(max_num_seqs, "max_num_seqs")
    max_num_batched_tokens = _check_int(max_num_batched_tokens, "max_num_batched_tokens")
    block = _check_int(block_size, "block_size")
    if block is not None and block not in BLOCK_SIZES:
        raise LlmopsError("block_size=%r is not one vLLM accepts; valid: %s" % (block_size, list(BLOCK_SIZES)))

    arch, ckpt = load_arch(model_path, model_config)
    ckpt = checkpoint_bytes or ckpt
    arch = apply_quantization(arch, quantization)
    gpu = gpus.lookup(gpu_model, gpu_memory_gib)

    model_dtype = dtype if dtype not in (None, "", "auto") else arch.torch_dtype
    if str(model_dtype).replace("torch.", "") in ("float32", "float") and dtype in (None, "", "auto"):
        model_dtype = "bfloat16"  # vLLM serves float32 checkpoints in half precision under dtype=auto
    act_bytes = dtypes.dtype_bytes(model_dtype, "dtype")
    kv_bytes = dtypes.kv_cache_dtype_bytes(kv_cache_dtype, act_bytes)
    ds_mla = str(kv_cache_dtype or "") == "fp8_ds_mla"

    reasons: list[str] = []
    derived = arch.derived_max_model_len
    auto_fit = max_model_len == -1
    mml = derived if (max_model_len is None or auto_fit) else max_model_len
    if mml > derived:
        reasons.append(
            "User-specified max_model_len (%d) is greater than the derived max_model_len (%s=%d or "
            "model_max_length=None in model's config.json). To allow overriding this maximum, set the env var "
            "VLLM_ALLOW_LONG_MAX_MODEL_LEN=1. VLLM_ALLOW_LONG_MAX_MODEL_LEN must be used with extreme caution. "
            "If the model uses relative position encoding (RoPE), positions exceeding derived_max_model_len "
            "lead to nan. If the model uses absolute position encoding, positions exceeding "
            "derived_max_model_len will cause a CUDA array out-of-bounds error." % (mml, arch.max_len_key, derived)
        )

    if max_num_seqs and max_num_batched_tokens and max_num_batched_tokens < max_num_seqs:
        raise LlmopsError(
            "max_num_batched_tokens (%d) must be greater than or equal to max_num_seqs (%d); raise "
            "max_num_batched_tokens to at least %d or lower max_num_seqs" % (max_num_batched_tokens, max_num_seqs, max_num_seqs)
        )
    par = parallel.validate(arch, tp, pp)
    if par["reasons"]:
        raise LlmopsError(
            "tensor_parallel_size=%d, pipeline_parallel_size=%d cannot start this model: %s Valid "
            "tensor_parallel_size values: %s" % (tp, pp, " ".join(par["reasons"]), par["valid_tensor_parallel_sizes"])
        )

    default_tokens, default_seqs = rel.batch_defaults(gpu.large_defaults, mml)
    seqs = max_num_seqs or default_seqs
    batched = max_num_batched_tokens or default_tokens
    if arch.is_mla and block is None:
        block = 64  # FlashMLA / CUTLASS MLA kernels need 64-token pages (vLLM raises block_size to 64)
    block = block or rel.block_size

    total = int(gpu.total_gib * GIB)
    hopper = gpu.compute_capability.startswith("9.")  # H100/H200/H20/GH200: FA3, larger per-graph memory
    runner_v2 = memory.model_runner_v2(rel, arch)
    stages, weights_source = weights.weight_bytes(arch, tp, pp, act_bytes, ckpt)
    non_torch = memory.non_torch_bytes(rel, tp, pp, gpu.name)

    worst = None
    min_blocks = None
    per_stage = []
    for index, stage in enumerate(stages):
        last = index == len(stages) - 1
        activation = memory.activation_bytes(arch, tp, act_bytes, batched, seqs, rel, last_stage=last)
        layout = kv.stage_layout(arch, stage.first_layer, stage.num_layers, tp, kv_bytes, block, ds_mla,
                                 state_bytes=act_bytes, mamba_pages=2 if rel.engine == "v1" else 1)
        graphs = memory.cudagraph_bytes(rel, stage.num_layers, seqs, enforce_eager, hopper, batched, runner_v2)
        bud = memory.budget(total, util, stage.bytes, activation, non_torch, graphs)
        blocks = layout.num_blocks(bud.available)
        per_stage.append((stage, layout, bud, blocks))
        if min_blocks is None or blocks < min_blocks:
            min_blocks, worst = blocks, (stage, layout, bud)
    stage, layout, bud = worst

    available = bud.available
    if auto_fit and available > 0:
        fitted = min(layout.estimate_max_model_len(entry[2].available, derived, batched) for entry in per_stage)
        mml = fitted if fitted > 0 else derived

    fits_memory = True
    heaviest = max(s.bytes for s in stages)
    if heaviest > total:
        reasons.append(
            "Model weights need %.2f GiB per GPU but the GPU has %.2f GiB: loading fails with "
            "torch.OutOfMemoryError: CUDA out of memory. Spread the model over more GPUs (tensor_parallel_size) "
            "or use a quantized checkpoint." % (_gib(heaviest), gpu.total_gib)
        )
        fits_memory = False
    needed = 0
    for entry in per_stage:
        lay, bud_s = entry[1], entry[2]
        if not lay.groups or not fits_memory:
            continue
        if bud_s.available <= 0:
            if rel.engine == "v0":
                msg = ("No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when "
                       "initializing the engine.")
            else:
                msg = ("No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when "
                       "initializing the engine. " + DOCS)
            if msg not in reasons:
                reasons.append(msg)
            fits_memory = False
            continue
        need = lay.max_memory_usage_bytes(mml, batched)
        needed = max(needed, need)
        if rel.engine == "v0":
            tokens_v0 = min_blocks * block
            if mml > tokens_v0:
                reasons.append(
                    "The model's max seq len (%d) is larger than the maximum number of tokens that can be stored in "
                    "KV cache (%d). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when "
                    "initializing the engine." % (mml, tokens_v0)
                )
                fits_memory = False
                break
        elif need > bud_s.available:
            est = lay.estimate_max_model_len(bud_s.available, mml, batched)
            est_msg = ("Based on the available memory, the estimated maximum model length is %d. " % est) if est > 0 else ""
            reasons.append(
                "To serve at least one request with the models's max seq len (%d), (%.2f GiB KV cache is needed, "
                "which is larger than the available KV cache memory (%.2f GiB). %sTry increasing "
                "`gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine. %s"
                % (mml, need / float(GIB), bud_s.available / float(GIB), est_msg, DOCS)
            )
            fits_memory = False

    notes = list(arch.notes)
    if arch.is_gdn and rel.cudagraph_in_budget and rel.key >= (0, 26, 0) and not enforce_eager:
        notes.append(
            "vLLM >= 0.26 charges a max_num_batched_tokens-sized gated-delta-net transient of its FULL CUDA-graph "
            "profiling capture to the CUDA-graph estimate (vllm-project/vllm#50780), which this model does not size: "
            "expect less KV cache than predicted (18-24%% reported) unless max_num_batched_tokens is small "
            "(%d here) or VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS=0" % batched
        )
    headroom = total * (1 - util) - CUDA_CONTEXT - (0 if rel.cudagraph_in_budget else memory.cudagraph_bytes(
        releases.release("0.21.0"), stage.num_layers, seqs, enforce_eager, hopper, batched))
    if headroom < 0.5 * GIB:
        notes.append(
            "gpu_memory_utilization=%s leaves %.2f GiB outside vLLM's budget for the CUDA context, CUDA graphs "
            "and the sampler warm-up; vLLM can run out of memory after sizing the KV cache (lower "
            "gpu_memory_utilization by 0.02-0.05 if it does)" % (util, max(headroom, 0) / float(GIB))
        )
    concurrency = layout.max_concurrency(min_blocks, mml, batched) if available > 0 else 0.0
    if available <= 0:
        tokens = 0
    elif rel.tokens_from_concurrency:
        tokens = int(concurrency * mml)
    else:
        tokens = layout.tokens(min_blocks)
    result: dict[str, Any] = {
        "vllm_version": rel.version,
        "engine": rel.engine,
        "model_runner": "v2" if runner_v2 else ("v1" if rel.engine == "v1" else "v0"),
        "gpu_model": gpu.name,
        "gpu_total_gib": round(gpu.total_gib, 2),
        "tensor_parallel_size": tp,
        "pipeline_parallel_size": pp,
        "gpu_memory_utilization": util,
        "max_model_len": mml,
        "derived_max_model_len": derived,
        "max_num_seqs": seqs,
        "max_num_batched_tokens": batched,
        "block_size": layout.block_size,
        "dtype": str(model_dtype),
        "kv_cache_dtype": kv_cache_dtype or "auto",
        "quantization": arch.quant.method.name if arch.quant else None,
        "requested_gib": _gib(bud.requested),
        "weights_gib": _gib(stage.bytes),
        "weights_source": weights_source,
        "activation_gib": _gib(bud.activation),
        "non_torch_gib": _gib(non_torch),
        "cudagraph_gib": _gib(bud.cudagraph),
        "kv_cache_gib": _gib(max(available, 0)),
        "kv_cache_bytes": max(available, 0),
        "kv_bytes_per_token": int(round(layout.bytes_per_token())),
        "kv_cache_groups": len(layout.groups),
        "num_gpu_blocks": min_blocks if available > 0 else 0,
        "kv_cache_tokens": tokens,
        "max_concurrency": round(concurrency, 2),
        "kv_needed_gib_for_max_model_len": _gib(needed),
        "fits": fits_memory and not reasons,
        "reasons": reasons,
        "notes": notes,
    }
    if _recommend:
        result["recommendations"] = recommend(result, arch, layout, available, rel, gpu, dict(
            model_config=None, gpu_memory_utilization=util, max_model_len=max_model_len, max_num_seqs=max_num_seqs,
            max_num_batched_tokens=max_num_batched_tokens, kv_cache_dtype=kv_cache_dtype, dtype=dtype,
            block_size=block_size, vllm_version=rel.version, enforce_eager=enforce_eager, checkpoint_bytes=ckpt,
            pipeline_parallel_size=pp,
        ), arch_override=arch)
    return result


def recommend(result, arch, layout, available, rel, gpu, kwargs, arch_override) -> dict[str, Any]:
    mml = result["max_model_len"]
    batched = result["max_num_batched_tokens"]
    if available > 0 and layout.groups:
        fit_len = layout.estimate_max_model_len(available, result["derived_max_model_len"], batched)
        rec_len = min(mml, fit_len) if fit_len else 0
    else:
        rec_len = 0
    tokens = result["kv_cache_tokens"]
    rec_seqs = result["max_num_seqs"]
    if tokens and rec_len:
        # every running sequence can keep min(max_model_len, 2048) tokens resident
        rec_seqs = max(1, min(rec_seqs, tokens // max(1, min(rec_len, 2048))))
    fitting_tp = []
    for tp in parallel.valid_tp_sizes(arch_override, 8):
        try:
            other = _size_arch(arch_override, gpu, tp, kwargs)
        except LlmopsError:
            continue
        if other["fits"]:
            fitting_tp.append(tp)
    world = result["tensor_parallel_size"] * result["pipeline_parallel_size"]
    pod_gib = 8 + 4 * world + (4 * world if rel.engine == "v0" else 0)
    shm_gib = 1 if world == 1 else min(16, 2 * world)
    return {
        "max_model_len": rec_len,
        "max_num_seqs": rec_seqs,
        "tensor_parallel_sizes": fitting_tp,
        "pod_memory_limit": "%dGi" % pod_gib,
        "shm_size": "%dGi" % shm_gib,
    }


def _size_arch(arch, gpu, tp, kwargs):
    """Size an already-normalised architecture at another TP (used for recommendations)."""
    from dataclasses import asdict  # noqa: F401  (kept local: only the recommendation path needs it)

    return size_model(
        model_config=_ArchConfig(arch),
        gpu_model=None if gpu.name == "custom" else gpu.name,
        gpu_memory_gib=gpu.total_gib,
        tensor_parallel_size=tp,
        _recommend=False,
        **{k: v for k, v in kwargs.items() if k != "model_config"},
    )


class _ArchConfig(dict):
    """Marker dict carrying an already-normalised ModelArch through size_model()."""

    def __init__(self, arch):
        super().__init__(_arch=True)
        self.arch = arch
