# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What each vLLM release does when it sizes the KV cache, and its defaults.

Read from vLLM's source (see docs/sizing.md for the file/function behind every row):

* < 0.8: V0 engine. ``Worker.determine_num_available_blocks``: KV = total x utilization - peak,
  where the profile runs max_num_batched_tokens (chunked prefill off below 32K context:
  max(max_model_len, 2048) tokens) and max_num_seqs=256; NCCL and the CUDA context count;
  CUDA graphs are captured later and not budgeted. Prints ``# GPU blocks: N``.
* 0.8 - 0.10: V1 engine. ``gpu_worker.determine_available_memory``: requested = total x util;
  non-KV = weights + torch peak increase + non-torch increase, measured from a snapshot taken
  before the distributed init, so NCCL / custom all-reduce buffers count (TP >= 2).
* >= 0.11: the snapshot is taken after NCCL is initialised (``init_device``), so NCCL buffers no
  longer come out of the budget.
* >= 0.20 (0.24 confirmed, 0.19 still old): the printed "GPU KV cache size" is
  ``int(max_concurrency * max_model_len)`` instead of ``num_blocks // len(groups) * block_size``
  (identical for one full-attention group, larger for sliding-window / hybrid models).
* >= 0.21: ``VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS`` defaults to 1: ``determine_available_memory``
  subtracts ``cudagraph_memory_estimate_applied`` (what ``profile_cudagraph_memory`` returns: max first
  capture over the graph modes + per-graph increment x (graphs - 1) per mode) too; logs of 0.21.0,
  0.22.0, 0.26.0 and 0.27.1 say "CUDA graph memory profiling is enabled (default since v0.21.0)".
  Batch defaults, utilization and block size are unchanged at vLLM main.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import releases as _vllm_releases

# One release table: the default release and the version parser are _vllm/releases.py's.
DEFAULT_VERSION = _vllm_releases.DEFAULT_VERSION
DEFAULT_VLLM_VERSION = DEFAULT_VERSION  # the name modules/vllm_sizing.py and older callers import
parse_version = _vllm_releases.parse_version


@dataclass(frozen=True)
class Release:
    version: str
    key: tuple[int, int, int]
    engine: str  # "v0" or "v1"
    nccl_in_budget: bool
    cudagraph_in_budget: bool
    tokens_from_concurrency: bool = False  # "GPU KV cache size" = int(max_concurrency x max_model_len)
    block_size: int = 16
    gpu_memory_utilization: float = 0.9

    def batch_defaults(self, large_gpu: bool, max_model_len: int) -> tuple[int, int]:
        """(max_num_batched_tokens, max_num_seqs) vLLM picks for `vllm serve` when unset."""
        if self.engine == "v0":
            if max_model_len > 32768:  # chunked prefill turned on for long contexts
                return 2048, 256
            return max(max_model_len, 2048), 256
        if self.key < (0, 9, 2):
            return 8192, 256
        if large_gpu:
            return 8192, 1024
        return 2048, 256


def release(version=None) -> Release:
    text = str(version) if version else DEFAULT_VLLM_VERSION
    # one range and one message for every part of the collection (flags, metrics, sizing): the release table's
    key = _vllm_releases.check_supported(text)
    if key < (0, 8, 0):
        return Release(text, key, "v0", nccl_in_budget=True, cudagraph_in_budget=False)
    return Release(
        text,
        key,
        "v1",
        nccl_in_budget=key < (0, 11, 0),
        cudagraph_in_budget=key >= (0, 21, 0),
        tokens_from_concurrency=key >= (0, 20, 0),
    )
