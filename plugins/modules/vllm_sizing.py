#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: vllm_sizing
short_description: Predict vLLM's GPU memory budget, KV-cache tokens and fit verdict for a model
version_added: 0.1.0
description:
  - Reads a model's C(config.json) (and, when present, C(model.safetensors.index.json) or the
    C(*.safetensors) headers for exact weight bytes) and computes, per GPU and the way the chosen
    vLLM release does at startup, the memory taken by weights, activations, non-PyTorch
    allocations and the CUDA-graph estimate, the KV-cache memory left, the C(GPU KV cache size)
    in tokens vLLM will print, and the maximum concurrency at C(max_model_len).
  - Reports whether vLLM would start, and when it would not, the reasons in vLLM's own words
    (for example C(No available memory for the cache blocks...)), plus recommendations.
  - Read-only; never changes anything. The method and its measured accuracy on real startup logs
    are in C(docs/sizing.md) of the collection.
author:
  - llmops contributors (@llmops)
extends_documentation_fragment:
  - llmops.vllm_serving._attributes
  - llmops.vllm_serving._attributes.INFO_MODULE
  - llmops.vllm_serving._attributes.ACTIONGROUP_VLLM_SERVING
options:
  model_path:
    description:
      - Directory holding the model's C(config.json) and, optionally, C(model.safetensors.index.json)
        or C(*.safetensors) files (only their headers are read).
      - Read on the host the module runs on (use C(delegate_to) for the controller).
    type: path
  model_config:
    description: The parsed C(config.json) of the model.
    type: dict
  gpu_model:
    description:
      - GPU catalog name (V(H100-80GB), V(H100-NVL), V(H200), V(B200), V(A100-80GB), V(A100-40GB), V(L40S),
        V(L4), V(A10G), V(RTX-4090), ...) or a GPU Feature Discovery C(nvidia.com/gpu.product) label such as
        V(NVIDIA-H100-80GB-HBM3). A MIG label (V(NVIDIA-A100-SXM4-40GB-MIG-3g.20gb)) sizes the slice.
    type: str
  gpu_memory_gib:
    description:
      - Total memory of one GPU as PyTorch reports it (C(torch.cuda.mem_get_info()[1])), in GiB. Overrides
        the catalog value of O(gpu_model) (for example from real C(gpu_facts)).
    type: float
  tensor_parallel_size:
    description: vLLM C(--tensor-parallel-size).
    type: int
    default: 1
  pipeline_parallel_size:
    description: vLLM C(--pipeline-parallel-size).
    type: int
    default: 1
  gpu_memory_utilization:
    description: vLLM C(--gpu-memory-utilization), a fraction in (0, 1]. Unset takes the release default (0.9).
    type: float
  max_model_len:
    description:
      - vLLM C(--max-model-len). Unset takes the model's derived maximum; V(-1) lets vLLM fit the longest
        length the memory allows.
    type: int
  max_num_seqs:
    description: vLLM C(--max-num-seqs). Unset takes the release default for the GPU (256, or 1024 on >= 70 GiB non-A100 GPUs).
    type: int
  max_num_batched_tokens:
    description: vLLM C(--max-num-batched-tokens). Unset takes the release default (2048, or 8192 on >= 70 GiB non-A100 GPUs).
    type: int
  kv_cache_dtype:
    description: vLLM C(--kv-cache-dtype).
    type: str
    choices: [auto, bfloat16, float16, fp8, fp8_e4m3, fp8_e5m2, fp8_inc, fp8_ds_mla]
  quantization:
    description:
      - vLLM C(--quantization). Unset reads C(quantization_config) from C(config.json). V(fp8) and
        V(bitsandbytes) also quantize an unquantized checkpoint at load time.
    type: str
  dtype:
    description: vLLM C(--dtype). V(auto) follows C(torch_dtype) of the model (float32 checkpoints are served in bfloat16).
    type: str
    choices: [auto, bfloat16, float16, half, float32, float]
  block_size:
    description: vLLM C(--block-size) (tokens per KV page). Unset takes 16 (64 for MLA models).
    type: int
    choices: [1, 8, 16, 32, 64, 128]
  vllm_version:
    description:
      - vLLM release to model (memory profiling and defaults changed between releases, see C(docs/sizing.md)).
    type: str
    default: "0.33.0"
notes:
  - Sizes are per GPU; with pipeline parallelism the busiest stage is reported.
  - GiB means 2^30 bytes, as in vLLM's logs.
seealso:
  - module: llmops.vllm_serving.vllm_parallel
"""

EXAMPLES = r"""
- name: Will Llama 3.1 8B fit one H100 with a 32k context?
  llmops.vllm_serving.vllm_sizing:
    model_path: /models/meta-llama/Llama-3.1-8B-Instruct
    gpu_model: NVIDIA-H100-80GB-HBM3
    max_model_len: 32768
  register: __sizing

- name: Refuse to deploy what cannot start
  ansible.builtin.assert:
    that: __sizing.fits
    fail_msg: "{{ __sizing.reasons | join(' ') }}"

- name: Size a model from an inline config on two L40S with an fp8 KV cache
  llmops.vllm_serving.vllm_sizing:
    model_config: "{{ lookup('ansible.builtin.file', 'qwen/config.json') | from_json }}"
    gpu_model: L40S
    tensor_parallel_size: 2
    kv_cache_dtype: fp8
    vllm_version: "0.33.0"
"""

RETURN = r"""
weights_gib:
  description: Weight memory per GPU (vLLM's C(Model loading took X GiB)); the busiest pipeline stage.
  returned: success
  type: float
  sample: 14.99
activation_gib:
  description: Peak PyTorch memory of the profile run on top of the weights (C(torch peak memory increase)).
  returned: success
  type: float
  sample: 1.89
non_torch_gib:
  description: Memory allocated outside PyTorch during profiling (cuBLAS, NCCL, ...).
  returned: success
  type: float
  sample: 0.25
cudagraph_gib:
  description: CUDA-graph estimate subtracted from the budget (0 for releases before 0.21).
  returned: success
  type: float
  sample: 0.43
kv_cache_gib:
  description: KV-cache memory per GPU (C(Available KV cache memory)); 0 when none is left.
  returned: success
  type: float
  sample: 58.11
kv_bytes_per_token:
  description: Bytes of KV memory per GPU one token of the reported cache size costs (all attention layers and groups).
  returned: success
  type: int
  sample: 131072
kv_cache_tokens:
  description: The C(GPU KV cache size) vLLM prints, in tokens.
  returned: success
  type: int
  sample: 476016
max_concurrency:
  description: C(Maximum concurrency for max_model_len tokens per request).
  returned: success
  type: float
  sample: 58.11
fits:
  description: Whether vLLM would start with these settings.
  returned: success
  type: bool
  sample: true
reasons:
  description: Why it would not start, in vLLM's wording; empty when it fits.
  returned: success
  type: list
  elements: str
  sample: ["No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when initializing the engine."]
recommendations:
  description: Settings that work.
  returned: success
  type: dict
  contains:
    max_model_len:
      description: Longest context the KV cache holds one request of (vLLM's own estimate), capped at the requested one.
      type: int
      sample: 32768
    max_num_seqs:
      description: max_num_seqs such that every running sequence can keep min(max_model_len, 2048) tokens.
      type: int
      sample: 256
    tensor_parallel_sizes:
      description: Tensor-parallel sizes (up to 8) that are valid for the model and fit.
      type: list
      elements: int
      sample: [1, 2, 4, 8]
    pod_memory_limit:
      description: Container memory limit for the vLLM pod (host RAM, not GPU memory).
      type: str
      sample: 12Gi
    shm_size:
      description: Size of the /dev/shm emptyDir for NCCL and the engine's message queues.
      type: str
      sample: 1Gi
  sample: {"max_model_len": 32768, "max_num_seqs": 256, "tensor_parallel_sizes": [1, 2, 4, 8], "pod_memory_limit": "12Gi", "shm_size": "1Gi"}
details:
  description: Every input default that was resolved and intermediate figure (release, engine, GPU total, requested memory, blocks, groups, weights source).
  returned: success
  type: dict
  sample: {"engine": "v1", "gpu_total_gib": 79.19, "num_gpu_blocks": 29751, "weights_source": "estimated from config.json"}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm.releases import DEFAULT_VERSION as DEFAULT_VLLM_VERSION
from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing.sizing import size_model

CONTRACT_KEYS = (
    "weights_gib", "activation_gib", "non_torch_gib", "cudagraph_gib", "kv_cache_gib", "kv_bytes_per_token",
    "kv_cache_tokens", "max_concurrency", "fits", "reasons", "recommendations",
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            model_path=dict(type="path"),
            model_config=dict(type="dict"),
            gpu_model=dict(type="str"),
            gpu_memory_gib=dict(type="float"),
            tensor_parallel_size=dict(type="int", default=1),
            pipeline_parallel_size=dict(type="int", default=1),
            gpu_memory_utilization=dict(type="float"),
            max_model_len=dict(type="int"),
            max_num_seqs=dict(type="int"),
            max_num_batched_tokens=dict(type="int", no_log=False),
            kv_cache_dtype=dict(type="str", choices=["auto", "bfloat16", "float16", "fp8", "fp8_e4m3", "fp8_e5m2",
                                                     "fp8_inc", "fp8_ds_mla"]),
            quantization=dict(type="str"),
            dtype=dict(type="str", choices=["auto", "bfloat16", "float16", "half", "float32", "float"]),
            block_size=dict(type="int", choices=[1, 8, 16, 32, 64, 128]),
            vllm_version=dict(type="str", default=DEFAULT_VLLM_VERSION),
        ),
        mutually_exclusive=[("model_path", "model_config")],
        required_one_of=[("model_path", "model_config"), ("gpu_model", "gpu_memory_gib")],
        supports_check_mode=True,
    )
    try:
        result = size_model(**module.params)
    except LlmopsError as err:
        module.fail_json(msg=str(err))
    out = {key: result[key] for key in CONTRACT_KEYS}
    out["details"] = {key: value for key, value in result.items() if key not in CONTRACT_KEYS}
    module.exit_json(changed=False, **out)


if __name__ == "__main__":
    main()
