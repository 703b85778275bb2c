#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: vllm_host_plan
short_description: Plan vLLM containers on one GPU host (no Kubernetes) - sized, checked and rendered - in one read-only call
version_added: 0.1.0
description:
  - The decision of the C(llmops.vllm_serving.vllm_host) role in one call of the pure core
    (C(plugins/module_utils/_host/plan.py)). Checks every model entry against its schema (unknown keys refused
    naming the closest known key; Kubernetes-only keys refused saying what to set on a host), resolves each
    model's C(gpus) against the host's GPUs, refuses two models on one GPU or one port and ports that other
    containers publish, sizes every model on its GPUs with the sizing core (tensor parallel size = number of
    GPUs), validates tensor parallelism, and renders one C(community.docker.docker_container) parameter set per
    model with the same C(vllm serve) arguments as C(llmops.vllm_serving.vllm_deploy).
  - Reads nothing itself (except the staged C(config.json) of store models, for sizing) and never changes anything;
    the caller passes what it read in O(host) and applies RV(containers).
  - Problems are returned (RV(problems)), all of them at once, not raised; nothing is rendered when there are any.
author:
  - llmops contributors (@llmops)
extends_documentation_fragment:
  - llmops.vllm_serving._attributes
  - llmops.vllm_serving._attributes.INFO_MODULE
  - llmops.vllm_serving._attributes.ACTIONGROUP_VLLM_SERVING
options:
  models:
    description:
      - The model entries (the role's C(vllm_host_models)); see the role README for the keys.
    type: list
    elements: raw
    default: []
  host:
    description:
      - What the caller read from the host - C(gpu_facts) (C(ansible_facts.llmops_gpu) of M(llmops.vllm_serving.gpu_facts)),
        C(store) (model name to C(exists), C(islnk), C(lnk_target) of C(<store>/<name>/current) and C(config), whether
        its C(config.json) exists) and C(containers) (the container list of C(community.docker.docker_host_info) with
        C(verbose_output)).
    type: dict
    default: {}
  options:
    description:
      - Role-wide settings, the role's variables without the C(vllm_host_) prefix (C(vllm_version), C(image),
        C(instance), C(model_store), C(model_mount), C(gpu_request), C(port), C(restart_policy), C(log_driver), ...);
        unknown keys are refused.
    type: dict
    default: {}
  state:
    description:
      - C(present) plans the containers; C(absent) only lists this instance's containers in RV(remove).
    type: str
    choices: [present, absent]
    default: present
seealso:
  - module: llmops.vllm_serving.vllm_sizing
  - module: llmops.vllm_serving.gpu_facts
  - module: community.docker.docker_container
"""

EXAMPLES = r"""
- name: Read the GPUs
  llmops.vllm_serving.gpu_facts:

- name: Plan the containers
  llmops.vllm_serving.vllm_host_plan:
    models:
      - {name: llama-8b, gpus: [0], port: 8000}
      - {name: qwen-7b, gpus: [1], port: 8001, max_model_len: 16384}
    host:
      gpu_facts: "{{ ansible_facts['llmops_gpu'] }}"
      store:
        llama-8b: {exists: true, islnk: true, lnk_target: releases/20261203T120000Z, config: true}
        qwen-7b: {exists: true, islnk: true, lnk_target: releases/20261201T090000Z, config: true}
    options: {vllm_version: "0.33.0", model_store: /srv/models}
  register: __plan

- name: Refuse before any change
  ansible.builtin.assert:
    that: __plan.problems | length == 0
    fail_msg: "{{ __plan.problems | join(' - ') }}"
"""

RETURN = r"""
containers:
  description: One C(community.docker.docker_container) parameter set per model (name, image, entrypoint, command, env,
    published_ports, mounts, shm_size, device_requests, restart_policy, healthcheck, log_driver, log_options, labels).
  returned: always
  type: list
  elements: dict
  sample:
    - name: vllm-llama-8b
      image: docker.io/vllm/vllm-openai:v0.33.0
      entrypoint: [vllm, serve]
      command: [/models/llama-8b/current, --host, 0.0.0.0, --port, "8000", --served-model-name, llama-8b]
      device_requests: [{driver: nvidia, device_ids: ["0"], capabilities: [[gpu]]}]
remove:
  description: This instance's containers (by label) that no model claims any more, or all of them for O(state=absent).
  returned: always
  type: list
  elements: str
  sample: [vllm-old-model]
plans:
  description: Per model what it runs on and where it answers (GPUs, tensor parallel size, URL, args, sizing).
  returned: always
  type: list
  elements: dict
  sample:
    - {name: llama-8b, container: vllm-llama-8b, gpus: ["0"], tensor_parallel_size: 1, url: "http://127.0.0.1:8000"}
problems:
  description: Everything that would make the containers fail, each naming the value, why, and what would work.
  returned: always
  type: list
  elements: str
  sample: ["model qwen-7b: GPU 0 is already given to model llama-8b; ... give each model its own GPUs"]
warnings_found:
  description: What is not fatal but not what production wants (device requests turned off).
  returned: always
  type: list
  elements: str
  sample: []
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.llmops.vllm_serving.plugins.module_utils._host import plan


def main():
    module = AnsibleModule(
        argument_spec=dict(
            models=dict(type="list", elements="raw", default=[]),
            host=dict(type="dict", default={}),
            options=dict(type="dict", default={}),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    result = plan.plan_host(p["models"], p["host"], p["options"], p["state"])
    result["warnings_found"] = result.pop("warnings")
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
