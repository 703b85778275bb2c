#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: vllm_deploy_plan
short_description: Plan a vllm_deploy release - every model sized, checked, placed and rendered - in one read-only call
version_added: 0.1.0
description:
  - The decision of the C(llmops.vllm_serving.vllm_deploy) role in one call of the pure core
    (C(plugins/module_utils/_vllm/deploy.py)). Checks every model entry against its schema (unknown keys
    refused naming the closest known key), sizes every model on its GPU with the sizing core (re-sized once
    at the longest context that fits when C(max_model_len) is not pinned), validates tensor/pipeline
    parallelism against the GPUs per node and MIG, places pods over the free GPUs of the nodes given,
    checks the Secrets, PVCs and CRDs the objects reference, and renders every Kubernetes object of every
    model (and of a canary).
  - Reads nothing from the cluster itself and never changes anything; the caller passes what it read in
    O(cluster) and applies RV(objects) (for example with M(llmops.vllm_serving.k8s_apply_set)).
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
      - The model entries (the role's C(vllm_deploy_models)); see the role README for the keys.
    type: list
    elements: raw
    required: true
  defaults:
    description: Role-wide values a model entry may leave out (C(gpu_product), C(gpu_memory_utilization), C(model_pvc), C(hf_cache_pvc)).
    type: dict
    default: {}
  canary:
    description: The canary (C(model), C(weight), C(replicas), C(settings)) when O(canary_action) is C(deploy) or C(promote).
    type: dict
    default: {}
  canary_action:
    description: C(none), C(deploy) (render only the canary), C(promote) (the canary settings merged into the stable model) or C(abort).
    type: str
    choices: [none, deploy, promote, abort]
    default: none
  options:
    description: Planning options (C(vllm_version), C(image), C(autoscaling), probe and threshold settings); see the role's preflight.
    type: dict
    default: {}
  settings:
    description:
      - Render settings, the role's variables without the C(vllm_deploy_) prefix (namespace, release, ingress,
        monitoring, ...); unknown keys are refused.
    type: dict
    default: {}
  cluster:
    description:
      - What the caller read from the cluster - C(nodes) (Node objects), C(pods) (live Pod objects),
        C(pvcs) (PVC names in the namespace), C(secrets) (Secret name to its key names; never values),
        C(crds) (installed CRD names), C(namespace_exists), C(live_replicas) (Deployment name to spec.replicas).
    type: dict
    default: {}
  reads:
    description:
      - The C(found) result of M(llmops.vllm_serving.k8s_read_set), instead of O(cluster), with query ids C(nodes),
        C(pods), C(pvcs), C(live) (the release's Deployments), C(namespace), C(secret/<name>) and C(crd/<name>).
      - When given, O(cluster) is ignored.
    type: dict
seealso:
  - module: llmops.vllm_serving.vllm_sizing
  - module: llmops.vllm_serving.vllm_parallel
  - module: llmops.vllm_serving.k8s_apply_set
"""

EXAMPLES = r"""
- name: Plan the release
  llmops.vllm_serving.vllm_deploy_plan:
    models:
      - name: llama-8b
        model_config_path: /srv/configs/llama-3.1-8b
        gpu_product: NVIDIA-L40S
    defaults: {gpu_memory_utilization: 0.9, model_pvc: models}
    options: {vllm_version: "0.33.0"}
    settings: {namespace: llm-serving, release: vllm}
    cluster:
      nodes: "{{ __nodes.resources }}"
      pods: "{{ __pods.resources }}"
      pvcs: [models]
      crds: [podmonitors.monitoring.coreos.com, prometheusrules.monitoring.coreos.com]
  register: __plan

- name: Refuse before any change
  ansible.builtin.assert:
    that: __plan.problems | length == 0
    fail_msg: "{{ __plan.problems | join(' - ') }}"
"""

RETURN = r"""
plans:
  description: One plan per stable model (GPUs per pod, placement, args, memory, probes, thresholds, weights).
  returned: always
  type: list
  elements: dict
canary:
  description: The canary's plan when O(canary_action=deploy), else null.
  returned: always
  type: dict
objects:
  description: Every object of the stable track (the Namespace first when the role manages it), in apply order.
  returned: always
  type: list
  elements: dict
canary_objects:
  description: The canary's objects (O(canary_action=deploy)).
  returned: always
  type: list
  elements: dict
kinds:
  description: Every kind the role owns (C(api_version), C(kind), C(crd)), for pruning and state=absent.
  returned: always
  type: list
  elements: dict
canary_kinds:
  description: The kinds of the canary track.
  returned: always
  type: list
  elements: dict
crds:
  description: CRDs the rendered objects need.
  returned: always
  type: list
  elements: str
problems:
  description: Everything that would make the deployment fail, each naming the value, why, and what would work.
  returned: always
  type: list
  elements: str
warnings_found:
  description: What may not work later (not fatal), such as Hub weights on an emptyDir cache.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import deploy


def main():
    module = AnsibleModule(
        argument_spec=dict(
            models=dict(type="list", elements="raw", required=True),
            defaults=dict(type="dict", default={}),
            canary=dict(type="dict", default={}),
            canary_action=dict(type="str", choices=["none", "deploy", "promote", "abort"], default="none"),
            options=dict(type="dict", default={}),
            settings=dict(type="dict", default={}),
            cluster=dict(type="dict", default={}),
            reads=dict(type="dict"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    cluster = deploy.cluster_from_reads(p["reads"]) if p["reads"] is not None else p["cluster"]
    result = deploy.plan_deployment(p["models"], p["defaults"], p["canary"], p["canary_action"], p["options"],
                                    p["settings"], cluster)
    result["warnings_found"] = result.pop("warnings")
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
