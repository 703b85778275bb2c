# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sizing filters over the same core as the vllm_sizing / vllm_parallel modules."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing import gpus, kv, parallel
from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing.arch import normalize_config
from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing.dtypes import dtype_bytes, kv_cache_dtype_bytes
from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing.sizing import size_model


def _wrap(func):
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except LlmopsError as err:
            raise AnsibleFilterError("%s: %s" % (func.__name__, err)) from err

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


def gpu_catalog_name(label):
    """GPU Feature Discovery product label (or catalog name) -> catalog name, e.g. NVIDIA-H100-80GB-HBM3 -> H100-80GB."""
    return gpus.catalog_name(label)


def gpu_total_gib(memory_mib, label=None):
    """nvidia.com/gpu.memory (MiB, as gpu_facts reports it) -> total GiB vLLM sees, for gpu_memory_gib."""
    return gpus.total_gib_from_smi(memory_mib, label)


def vllm_sizing(model_config, **kwargs):
    """Full sizing result for a config.json dict; keyword arguments are the vllm_sizing module options."""
    return size_model(model_config=model_config, **kwargs)


def vllm_kv_bytes_per_token(model_config, tensor_parallel_size=1, pipeline_parallel_size=1, kv_cache_dtype=None,
                            dtype=None):
    """Physical KV-cache bytes one token takes on the busiest GPU."""
    arch = normalize_config(model_config)
    act = dtype_bytes(dtype if dtype not in (None, "auto") else
                      ("bfloat16" if arch.torch_dtype in ("float32", "float") else arch.torch_dtype))
    return kv.kv_bytes_per_token_per_gpu(arch, int(tensor_parallel_size), int(pipeline_parallel_size),
                                         kv_cache_dtype_bytes(kv_cache_dtype, act))


def vllm_valid_tp(model_config, limit=8):
    """Tensor-parallel sizes (powers of two up to limit) vLLM accepts for the model."""
    return parallel.valid_tp_sizes(normalize_config(model_config), int(limit))


class FilterModule(object):
    def filters(self):
        return {
            "gpu_catalog_name": _wrap(gpu_catalog_name),
            "gpu_total_gib": _wrap(gpu_total_gib),
            "vllm_sizing": _wrap(vllm_sizing),
            "vllm_kv_bytes_per_token": _wrap(vllm_kv_bytes_per_token),
            "vllm_valid_tp": _wrap(vllm_valid_tp),
        }
