#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: vllm_parallel
short_description: Validate a vLLM tensor/pipeline-parallel plan against a model and a node shape
version_added: 0.1.0
description:
  - Checks the rules vLLM enforces at startup, in vLLM's wording, and the ones a Kubernetes pod adds
    on top; returns the valid alternatives.
  - Attention heads divisible by TP; KV heads divisible by TP, or TP a multiple of the KV heads
    (replication); quantized weight alignment per TP rank (AWQ/GPTQ group size, Marlin 64/128,
    fp8 block sizes); C(max_num_batched_tokens >= max_num_seqs); TP x PP equal to the GPUs a pod
    requests; TP within one node, TP x PP across nodes; no multi-GPU world on MIG slices.
  - Read-only; never changes anything.
author:
  - llmops contributors (@llmops)
extends_documentation_fragment:
  - llmops.vllm_serving._attributes
  - llmops.vllm_serving._attributes.INFO_MODULE
  - llmops.vllm_serving._attributes.ACTIONGROUP_VLLM_SERVING
options:
  model_path:
    description: Directory holding the model's C(config.json).
    type: path
  model_config:
    description: The parsed C(config.json) of the model.
    type: dict
  tensor_parallel_size:
    description: vLLM C(--tensor-parallel-size).
    type: int
    default: 1
  pipeline_parallel_size:
    description: vLLM C(--pipeline-parallel-size).
    type: int
    default: 1
  gpus_per_node:
    description: GPUs on one node (C(nvidia.com/gpu.count)); limits TP and decides whether the plan is multi-node.
    type: int
  gpu_request:
    description: The C(nvidia.com/gpu) the vLLM pod requests (per pod; per leader/worker pod when multi-node).
    type: int
  nodes:
    description: Nodes the deployment may span.
    type: int
    default: 1
  mig:
    description: The GPUs are MIG slices.
    type: bool
    default: false
  quantization:
    description: vLLM C(--quantization); unset reads C(quantization_config) from C(config.json).
    type: str
  max_num_seqs:
    description: vLLM C(--max-num-seqs), checked against O(max_num_batched_tokens).
    type: int
  max_num_batched_tokens:
    description: vLLM C(--max-num-batched-tokens).
    type: int
seealso:
  - module: llmops.vllm_serving.vllm_sizing
"""

EXAMPLES = r"""
- name: Validate TP=4 for a model on 8-GPU nodes
  llmops.vllm_serving.vllm_parallel:
    model_path: /models/Qwen/Qwen2.5-72B-Instruct
    tensor_parallel_size: 4
    gpus_per_node: 8
    gpu_request: 4
  register: __parallel

- name: Stop with vLLM's reasons and the plans that work
  ansible.builtin.assert:
    that: __parallel.valid
    fail_msg: "{{ __parallel.reasons | join(' ') }} Valid TP sizes: {{ __parallel.valid_tensor_parallel_sizes }}"
"""

RETURN = r"""
valid:
  description: Whether the plan passes every rule.
  returned: success
  type: bool
  sample: false
reasons:
  description: Every rule the plan breaks, in vLLM's wording where vLLM has one.
  returned: success
  type: list
  elements: str
  sample: ["Total number of attention heads (32) must be divisible by tensor parallel size (3)."]
valid_tensor_parallel_sizes:
  description: Tensor-parallel sizes (powers of two up to the GPUs of a node) the model accepts.
  returned: success
  type: list
  elements: int
  sample: [1, 2, 4, 8]
valid_plans:
  description: Valid combinations within O(nodes) x O(gpus_per_node) GPUs.
  returned: success
  type: list
  elements: dict
  sample: [{"tensor_parallel_size": 8, "pipeline_parallel_size": 2, "nodes": 2}]
multi_node:
  description: TP x PP exceeds the GPUs of one node.
  returned: success
  type: bool
  sample: false
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing import parallel
from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing.sizing import apply_quantization, load_arch


def main():
    module = AnsibleModule(
        argument_spec=dict(
            model_path=dict(type="path"),
            model_config=dict(type="dict"),
            tensor_parallel_size=dict(type="int", default=1),
            pipeline_parallel_size=dict(type="int", default=1),
            gpus_per_node=dict(type="int"),
            gpu_request=dict(type="int"),
            nodes=dict(type="int", default=1),
            mig=dict(type="bool", default=False),
            quantization=dict(type="str"),
            max_num_seqs=dict(type="int"),
            max_num_batched_tokens=dict(type="int", no_log=False),
        ),
        mutually_exclusive=[("model_path", "model_config")],
        required_one_of=[("model_path", "model_config")],
        supports_check_mode=True,
    )
    params = module.params
    try:
        arch = load_arch(params["model_path"], params["model_config"])[0]
        arch = apply_quantization(arch, params["quantization"])
        result = parallel.validate(
            arch,
            tensor_parallel_size=params["tensor_parallel_size"],
            pipeline_parallel_size=params["pipeline_parallel_size"],
            gpus_per_node=params["gpus_per_node"],
            gpu_request=params["gpu_request"],
            nodes=params["nodes"],
            mig=params["mig"],
            max_num_seqs=params["max_num_seqs"],
            max_num_batched_tokens=params["max_num_batched_tokens"],
        )
    except LlmopsError as err:
        module.fail_json(msg=str(err))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
