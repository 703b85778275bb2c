# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The KV-cache budget of one GPU, in bytes, the way the chosen vLLM release computes it.

V1 (``gpu_worker.determine_available_memory``)::

    requested  = total_memory x gpu_memory_utilization
    non_kv     = weights + torch_peak_increase (activations of the profile run)
                 + non_torch_increase (cuBLAS/NCCL/... allocated outside PyTorch)
    available  = requested - non_kv - cudagraph_estimate   (estimate only from 0.21 on)

V0 (``worker.determine_num_available_blocks``): the same subtraction, with NCCL and the CUDA
context inside the measured peak and no CUDA-graph term.

Weights and the KV arithmetic are exact; the activation, non-torch and CUDA-graph terms are
models of what vLLM measures at startup, fitted to real startup logs (docs/sizing.md,
tests/fixtures/vllm_logs/). Every term is returned so a user can see where memory went.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.llmops.vllm_serving.plugins.module_utils._gpu import catalog
from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing import GIB
from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing.arch import ModelArch
from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing.releases import Release

# Calibration constants, fitted on real startup logs (tests/fixtures/vllm_logs, docs/sizing.md):
# vLLM 0.19.0 on H100 (llm-d-planner accuracy sweep: torch peak 0.77-3.99 GiB, non-torch 0.07-2.21 GiB,
# CUDA-graph estimate 0.5-1.8 GiB), the 0.15-0.18 version sweep, and V0 (0.6/0.7) memory-profiling lines.
SAMPLER_COPIES_V1 = 3.5  # fp32 [max_num_seqs, vocab] buffers live in the dummy sampler run (>= 0.17)
SAMPLER_COPIES_V1_OLD = 9.4  # 0.8 - 0.16: the dummy sampler also materialised logprobs/sorting (5.64 GiB for Qwen3-14B)
SAMPLER_COPIES_V0 = 8.5
SAMPLER_SLACK = 0.04 * GIB
ACTIVATION_BASE = 0.14 * GIB  # attention metadata, persistent buffers, allocator rounding
MULTIMODAL_EXTRA = 0.28 * GIB
MOE_WORKSPACE_SHARE = 1.0  # the fused-MoE caches (T x topk x (max(2I, H) + I)) stay allocated at the peak
NON_TORCH_TP1 = 0.25 * GIB  # cuBLAS/cuDNN workspaces, Triton/FlashInfer (0.24-0.27 GiB measured, 0.13 before 0.18)
NON_TORCH_TP1_OLD = 0.13 * GIB
NON_TORCH_TP_NVLINK = 2.10 * GIB  # TP >= 2 on NVLink GPUs: NCCL + custom all-reduce buffers (2.06-2.21 measured)
NON_TORCH_TP_PCIE = 1.90 * GIB  # TP >= 2 without NVLink: one 0.3x log shows non-torch 0.63 -> 2.51 GiB at TP=4
NON_TORCH_PP = 0.07 * GIB  # PP-only ranks (measured 0.07)
NON_TORCH_V0 = 0.30 * GIB
# profile_cudagraph_memory() ("Estimated CUDA graph memory: X GiB total"), subtracted from 0.21 on.
# Source (vllm/v1/worker/gpu_model_runner.py, unchanged in structure from its introduction in
# vllm-project/vllm#30515 to current main): for each CUDA-graph mode (PIECEWISE, FULL) it captures the
# two largest batch descriptors into a throw-away pool and measures the free-memory drop;
#     estimate = max over modes(first capture) + sum over modes(second capture x (n_mode - 1))
# (the first capture holds the shared graph pool, the second is the per-graph increment, at least
# 1 MiB). The two measured quantities are modelled: the first capture as a constant, the per-graph
# increment as proportional to the layers on the rank (one piecewise graph per layer boundary).
# Fitted on printed estimates (tests/fixtures/vllm_logs/cases.json "cudagraph_estimate_gib"):
# Hopper (FA3 backend) -- 35 vLLM 0.19.0 H100 startups with 51 + 51 graphs, 0.49-1.92 GiB (0.84 for
# 32 layers, 1.6-1.9 for 80); other GPUs -- 0.21-0.26 logs: Qwen3-8B on an RTX A5000 0.52 GiB
# (51 + 35 graphs) and a 60-layer dense model on B300 0.76 GiB (51 + 51). Model Runner V2 (0.29+) is
# given the same estimate; see model_runner_v2() for the releases where it reserved nothing.
CUDAGRAPH_FIRST_HOPPER = 0.30 * GIB
CUDAGRAPH_PER_GRAPH_LAYER_HOPPER = 0.172 * 2 ** 20  # bytes per graph per layer
CUDAGRAPH_FIRST = 0.25 * GIB
CUDAGRAPH_PER_GRAPH_LAYER = 0.077 * 2 ** 20
_CAPTURE_SIZES = [1, 2, 4] + list(range(8, 256, 8)) + list(range(256, 513, 16))
_NVLINK = catalog.NVLINK  # catalog names of the GPUs with NVLink (the records of _gpu/catalog.py)


def capture_sizes(max_num_seqs: int, max_num_batched_tokens: int | None = None) -> int:
    """Number of PIECEWISE CUDA-graph batch sizes: [1, 2, 4] + range(8, 256, 8) + range(256, 513, 16)
    up to max_cudagraph_capture_size = min(2 x max_num_seqs, 512) (and max_num_batched_tokens)."""
    return len(_sizes(max_num_seqs, max_num_batched_tokens)[0])


def _sizes(max_num_seqs: int, max_num_batched_tokens: int | None = None):
    cap = min(2 * max_num_seqs, 512, max_num_batched_tokens or 512)
    piecewise = [s for s in _CAPTURE_SIZES if s <= cap]
    # FULL graphs are captured for uniform decode batches only: at most max_num_seqs requests
    full = [s for s in piecewise if s <= max_num_seqs]
    return piecewise, full


def capture_graphs(max_num_seqs: int, max_num_batched_tokens: int | None = None) -> tuple[int, int]:
    """(PIECEWISE, FULL) graphs of the default FULL_AND_PIECEWISE mode, as vLLM logs them in
    "Profiling CUDA graph memory: PIECEWISE=51 (largest=512), FULL=35 (largest=256)" (256 seqs)."""
    piecewise, full = _sizes(max_num_seqs, max_num_batched_tokens)
    return len(piecewise), len(full)


@dataclass(frozen=True)
class Budget:
    total: int
    requested: int
    weights: int
    activation: int
    non_torch: int
    cudagraph: int
    available: int


def activation_bytes(arch: ModelArch, tp: int, act_bytes: int, max_num_batched_tokens: int,
                     max_num_seqs: int, release: Release, last_stage: bool = True) -> int:
    """Peak PyTorch memory of the profile run on top of the weights (vLLM's "torch peak increase").

    The profile runs one forward pass of ``max_num_batched_tokens`` tokens, then (on the last
    pipeline stage) the sampler on ``min(max_num_seqs, max_num_batched_tokens)`` rows of fp32
    vocabulary logits. Dense intermediates are freed before the sampler runs (peak = max of the
    two); the fused-MoE workspace is cached and adds to both.
    """
    t = max_num_batched_tokens
    h = arch.hidden_size
    if arch.is_mla:
        attn = arch.num_attention_heads / float(tp) * (arch.qk_nope_head_dim + arch.qk_rope_head_dim + arch.v_head_dim) \
            + arch.kv_lora_rank + arch.qk_rope_head_dim
    else:
        attn = (arch.num_attention_heads * 2 + 2 * arch.num_kv_heads) / float(tp) * arch.head_dim
    mlp = 3 * arch.intermediate_size / float(tp) if (not arch.is_moe or arch.num_dense_layers) else 0
    forward = t * (2 * h + max(attn, mlp)) * act_bytes
    moe = 0.0
    if arch.is_moe:
        topk = max(1, arch.num_experts_per_tok)
        inter = arch.moe_intermediate_size / float(tp)
        moe = MOE_WORKSPACE_SHARE * t * topk * (max(2 * inter, h) + inter) * act_bytes
    sampler = 0.0
    if last_stage:
        if release.engine == "v0":
            copies = SAMPLER_COPIES_V0
        elif release.key < (0, 17, 0):
            copies = SAMPLER_COPIES_V1_OLD
        else:
            copies = SAMPLER_COPIES_V1
        rows = min(max_num_seqs, t)
        sampler = rows * arch.vocab_size * 4 * copies + SAMPLER_SLACK
    # the encoder dummy batch of a vision-language model leaves its cache behind (+0.28-0.30 GiB
    # measured for Gemma-3 / Qwen2.5-VL over their text-only siblings)
    encoder = MULTIMODAL_EXTRA if arch.is_multimodal else 0.0
    return int(max(forward, sampler) + moe + encoder + ACTIVATION_BASE)


def non_torch_bytes(release: Release, tp: int, pp: int, gpu_name: str = "") -> int:
    if release.engine == "v0":
        return int(NON_TORCH_V0 + (0.1 * GIB if tp > 1 else 0))
    if tp > 1:
        return int(NON_TORCH_TP_NVLINK if gpu_name in _NVLINK else NON_TORCH_TP_PCIE)
    if pp > 1:
        return int(NON_TORCH_PP)
    return int(NON_TORCH_TP1 if release.key >= (0, 18, 0) else NON_TORCH_TP1_OLD)


def model_runner_v2(release: Release, arch: ModelArch) -> bool:
    """Whether the release runs this model on Model Runner V2 (``vllm/v1/worker/gpu/model_runner.py``,
    logged as "Using V2 Model Runner"): the default for dense text models from 0.25.1
    (vllm-project/vllm#44443; #49233 states the release) and for every supported configuration from
    0.29.0 (vLLM's "From Opt-In to Default" announcement). Multimodal and linear-attention hybrids are
    kept on the V1 runner here (not confirmed either way)."""
    if release.engine != "v1" or arch.is_multimodal or arch.is_gdn or arch.attention_layers < arch.num_layers:
        return False
    if release.key >= (0, 29, 0):
        return True
    return release.key >= (0, 25, 1) and not arch.is_moe


def cudagraph_bytes(release: Release, layers_on_stage: int, max_num_seqs: int, enforce_eager: bool,
                    hopper: bool = True, max_num_batched_tokens: int | None = None,
                    runner_v2: bool = False) -> int:
    """The estimate ``profile_cudagraph_memory`` returns and ``determine_available_memory`` subtracts
    (``VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS=1``, the default from 0.21): first capture + per-graph
    increment x (graphs - 1) per mode. ``hopper`` selects the constants measured on H100/H200.
    Model Runner V2's ``profile_cudagraph_memory`` was a placeholder returning 0 when V2 became the
    default for dense models in 0.25.1 (vllm-project/vllm#49224, #49233); V2's own CUDA-graph memory
    profiling shipped in 0.29.0 (its release notes), so V2 models reserve nothing before 0.29."""
    if enforce_eager or not release.cudagraph_in_budget:
        return 0
    if runner_v2 and release.key < (0, 29, 0):
        return 0
    piecewise, full = capture_graphs(max_num_seqs, max_num_batched_tokens)
    increments = max(piecewise - 1, 0) + max(full - 1, 0)
    if hopper:
        first, per_graph = CUDAGRAPH_FIRST_HOPPER, CUDAGRAPH_PER_GRAPH_LAYER_HOPPER
    else:
        first, per_graph = CUDAGRAPH_FIRST, CUDAGRAPH_PER_GRAPH_LAYER
    return int(first + per_graph * layers_on_stage * increments)


def budget(total: int, utilization: float, weights: int, activation: int, non_torch: int, cudagraph: int) -> Budget:
    requested = int(total * utilization)
    available = requested - weights - activation - non_torch - cudagraph
    return Budget(total, requested, weights, activation, non_torch, cudagraph, int(available))
