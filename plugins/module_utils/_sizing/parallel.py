# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parallelism rules with vLLM's wording, and the valid alternatives.

Sources: ``ModelConfig.verify_with_parallel_config`` (heads / TP), ``QKVParallelLinear``
(KV-head replication), Marlin ``check_marlin_supports_shape`` (min_thread_n=64, min_thread_k=128),
fp8 ``validate_fp8_block_shape``, AWQ/GPTQ ``create_weights`` (group alignment),
``SchedulerConfig`` (max_num_batched_tokens >= max_num_seqs).
"""

from __future__ import annotations


from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing.arch import ModelArch

MARLIN_MIN_N = 64
MARLIN_MIN_K = 128
CANDIDATE_TP = (1, 2, 4, 8, 16, 32, 64)


def _positive(value, name: str, allow_none: bool = True) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise LlmopsError("%s=%r must be a positive integer" % (name, value))
    return value


def tp_reasons(arch: ModelArch, tp: int) -> list[str]:
    """Why vLLM would refuse this tensor_parallel_size for this model (empty when it is fine)."""
    reasons = []
    heads = arch.num_attention_heads
    if heads % tp:
        reasons.append(
            "Total number of attention heads (%d) must be divisible by tensor parallel size (%d)." % (heads, tp)
        )
    if not arch.is_mla:
        kv = arch.num_kv_heads
        if tp >= kv and tp % kv:
            reasons.append(
                "tensor parallel size (%d) must be divisible by the total number of key/value heads (%d) "
                "so that every rank holds a whole replicated KV head." % (tp, kv)
            )
        elif tp < kv and kv % tp:
            reasons.append(
                "Total number of key/value heads (%d) must be divisible by tensor parallel size (%d)." % (kv, tp)
            )
    reasons.extend(_quant_reasons(arch, tp))
    return reasons


def _quant_reasons(arch: ModelArch, tp: int) -> list[str]:
    quant = arch.quant
    if quant is None or tp == 1:
        return []
    reasons = []
    h = arch.hidden_size
    inter = arch.moe_intermediate_size if (arch.is_moe and quant.method.experts_only) else arch.intermediate_size
    # row-parallel layers split their input (down_proj: intermediate, o_proj: heads*head_dim)
    row_inputs = [("down_proj", inter)]
    if not arch.is_mla:
        row_inputs.append(("o_proj", arch.num_attention_heads * arch.head_dim))
    col_outputs = [("gate_up_proj", 2 * inter)]
    name = quant.method.name
    if quant.weight_block != (0, 0):
        block_n, block_k = quant.weight_block
        for layer, size in col_outputs:
            part = size // tp
            if size % tp or (part // 2 if layer == "gate_up_proj" else part) % block_n:
                reasons.append(
                    "Weight output_partition_size = %d of %s is not divisible by weight quantization block_n = %d."
                    % (part // 2 if layer == "gate_up_proj" else part, layer, block_n)
                )
        for layer, size in row_inputs:
            if size % tp or (size // tp) % block_k:
                reasons.append(
                    "Weight input_size_per_partition = %d of %s is not divisible by weight quantization block_k = %d."
                    % (size // tp, layer, block_k)
                )
        return reasons
    if name in ("awq", "awq_marlin", "gptq", "gptq_marlin") or (name == "compressed-tensors" and quant.bits <= 8 and quant.group_size):
        for layer, size in row_inputs:
            part = size // tp
            if quant.group_size and (size % tp or part % quant.group_size):
                reasons.append(
                    "The input size is not aligned with the quantized weight shape. This can be caused by too "
                    "large tensor parallel size. (%s input_size_per_partition = %d, group_size = %d)"
                    % (layer, part, quant.group_size)
                )
            elif part % MARLIN_MIN_K:
                reasons.append(
                    "Weight input_size_per_partition = %d of %s is not divisible by min_thread_k = %d. Consider "
                    "reducing tensor_parallel_size%s." % (part, layer, MARLIN_MIN_K, _non_marlin_hint(name))
                )
        for layer, size in col_outputs:
            part = size // tp
            if part % MARLIN_MIN_N:
                reasons.append(
                    "Weight output_size_per_partition = %d of %s is not divisible by min_thread_n = %d. Consider "
                    "reducing tensor_parallel_size%s." % (part, layer, MARLIN_MIN_N, _non_marlin_hint(name))
                )
        del h
    return reasons


def _non_marlin_hint(method):
    """vLLM's Marlin shape error always suggests `--quantization gptq`; that only loads GPTQ checkpoints.
    Name the non-Marlin kernel of the checkpoint's own method instead (none exists for compressed-tensors)."""
    if method in ("awq", "awq_marlin"):
        return " or running with --quantization awq (the non-Marlin AWQ kernel)"
    if method in ("gptq", "gptq_marlin"):
        return " or running with --quantization gptq (the non-Marlin GPTQ kernel)"
    return ""


def valid_tp_sizes(arch: ModelArch, limit: int = 64) -> list[int]:
    return [tp for tp in CANDIDATE_TP if tp <= limit and not tp_reasons(arch, tp)]


def validate(arch: ModelArch, tensor_parallel_size: int = 1, pipeline_parallel_size: int = 1,
             gpus_per_node: int | None = None, gpu_request: int | None = None, nodes: int = 1,
             mig: bool = False, max_num_seqs: int | None = None,
             max_num_batched_tokens: int | None = None) -> dict:
    """Check a parallel plan; return valid, reasons, valid TP sizes and plans, multi_node."""
    tp = _positive(tensor_parallel_size, "tensor_parallel_size", False)
    pp = _positive(pipeline_parallel_size, "pipeline_parallel_size", False)
    gpus_per_node = _positive(gpus_per_node, "gpus_per_node")
    gpu_request = _positive(gpu_request, "gpu_request")
    nodes = _positive(nodes, "nodes", False)
    _positive(max_num_seqs, "max_num_seqs")
    _positive(max_num_batched_tokens, "max_num_batched_tokens")

    reasons = list(tp_reasons(arch, tp))
    world = tp * pp
    if pp > arch.num_layers:
        reasons.append(
            "pipeline_parallel_size (%d) is larger than the number of hidden layers (%d); every stage needs at "
            "least one layer." % (pp, arch.num_layers)
        )
    if max_num_seqs and max_num_batched_tokens and max_num_batched_tokens < max_num_seqs:
        reasons.append(
            "max_num_batched_tokens (%d) must be greater than or equal to max_num_seqs (%d)."
            % (max_num_batched_tokens, max_num_seqs)
        )
    if mig and world > 1:
        reasons.append(
            "tensor_parallel_size x pipeline_parallel_size = %d, but MIG slices cannot host a multi-GPU "
            "vLLM world (NCCL does not run across MIG instances); use tensor_parallel_size=1 on a MIG slice "
            "or whole GPUs." % world
        )
    capacity = gpus_per_node * nodes if gpus_per_node else None
    multi_node = bool(gpus_per_node and world > gpus_per_node)
    if gpus_per_node and tp > gpus_per_node:
        reasons.append(
            "tensor_parallel_size (%d) exceeds the %d GPUs of one node; keep tensor parallelism inside a node "
            "and span nodes with pipeline_parallel_size (e.g. tensor_parallel_size=%d, "
            "pipeline_parallel_size=%d)." % (tp, gpus_per_node, gpus_per_node, -(-world // gpus_per_node))
        )
    if capacity and world > capacity:
        reasons.append(
            "tensor_parallel_size x pipeline_parallel_size = %s GPUs, but %s node(s) x %s GPUs = %s are available."
            % (world, nodes, gpus_per_node, capacity)
        )
    if gpu_request:
        per_pod = world if not multi_node else -(-world // max(1, nodes))
        if gpu_request != per_pod:
            reasons.append(
                "tensor_parallel_size x pipeline_parallel_size = %d needs %d GPU(s) per pod, but the pod requests "
                "nvidia.com/gpu=%d; vLLM's world size must equal the GPUs each pod sees." % (world, per_pod, gpu_request)
            )
    limit = gpus_per_node or 8
    valid_tp = valid_tp_sizes(arch, limit if not mig else 1)
    plans = []
    max_gpus = capacity or limit
    for vtp in valid_tp:
        for vpp in range(1, min(arch.num_layers, max_gpus // vtp) + 1):
            if vtp * vpp > max_gpus:
                break
            need_nodes = -(-(vtp * vpp) // limit)
            plans.append({"tensor_parallel_size": vtp, "pipeline_parallel_size": vpp, "nodes": need_nodes})
            if vpp >= 8:
                break
    return {
        "valid": not reasons,
        "reasons": reasons,
        "valid_tensor_parallel_sizes": valid_tp,
        "valid_plans": plans,
        "multi_node": multi_node,
    }
