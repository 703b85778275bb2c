#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: gpu_preflight
short_description: Judge a GPU node against what the deployment needs, changing nothing
version_added: 0.1.0
description:
  - Returns a pass / warn / fail / skip verdict per check, each with the reason and the fix.
  - "Checks: NVIDIA devices present (sysfs, no lspci needed); nouveau not loaded; driver loaded and answering;
    driver new enough for the CUDA version of the vLLM image (NVIDIA's CUDA toolkit / driver table, with CUDA minor
    version compatibility as a warning); GPU count and model as the inventory expects; GPUs homogeneous; MIG state as
    desired; fabric manager running on NVSwitch systems; kernel headers present when the GPU Operator builds the
    driver; free disk for the model store; container runtime present; ECC / row-remap health; persistence mode."
  - The module itself does not fail on failed checks; it returns C(failed_checks) so a role can print the whole report
    first and then fail the play. It fails only on invalid options.
author:
  - llmops contributors (@llmops)
options:
  facts:
    description:
      - The C(llmops_gpu) facts from M(llmops.vllm_serving.gpu_facts). Gathered by this module when omitted.
    type: dict
  gpu_required:
    description: Whether the host must have NVIDIA GPUs.
    type: bool
    default: true
  expected_gpu_count:
    description: GPUs the inventory expects on this host; not checked when omitted.
    type: int
  expected_gpu_model:
    description:
      - GPU model the inventory expects, as the product name (C(NVIDIA H200)) or GPU Feature Discovery label
        (C(NVIDIA-H200)); not checked when omitted.
    type: str
  cuda_version:
    description: CUDA version of the vLLM container image to be deployed, e.g. C(12.9) or C(12.8.1).
    type: str
    default: "12.9"
  driver_source:
    description:
      - C(host) when the node's own driver serves the GPUs; C(operator) when the GPU Operator's driver container will.
    type: str
    choices: [host, operator]
    default: host
  mig_mode:
    description: Desired MIG mode.
    type: str
    choices: [disabled, enabled, any]
    default: disabled
  container_runtime:
    description: Container runtime that must be present.
    type: str
    choices: [containerd, crio, any, none]
    default: containerd
  model_store_path:
    description: Directory of the model store; its nearest existing parent is measured.
    type: path
  model_store_min_free_gib:
    description: Free space the model store needs, GiB.
    type: float
    default: 0
  require_persistence_mode:
    description: Fail (instead of warn) when persistence mode is off.
    type: bool
    default: false
extends_documentation_fragment:
  - llmops.vllm_serving._attributes
  - llmops.vllm_serving._attributes.INFO_MODULE
  - llmops.vllm_serving._attributes.ACTIONGROUP_VLLM_SERVING
seealso:
  - module: llmops.vllm_serving.gpu_facts
"""

EXAMPLES = r"""
- name: Judge this node for an 8 x H100 deployment of a CUDA 12.9 vLLM image
  llmops.vllm_serving.gpu_preflight:
    expected_gpu_count: 8
    expected_gpu_model: NVIDIA-H100-80GB-HBM3
    cuda_version: "12.9"
    model_store_path: /var/lib/llmops/models
    model_store_min_free_gib: 500
  register: gpu_node_preflight_result

- name: Fail the play on hard failures, after printing the report
  ansible.builtin.assert:
    that: not gpu_node_preflight_result.failed_checks
    fail_msg: "{{ gpu_node_preflight_result.report }}"
"""

RETURN = r"""
checks:
  description: One verdict per check.
  returned: always
  type: list
  elements: dict
  sample:
    - {check: driver_cuda, status: pass, reason: "driver 580.159.04 >= 575.51.03 required by CUDA 12.9 (image CUDA 12.9)", fix: ""}
    - {check: container_runtime, status: fail, reason: no containerd on this node,
       fix: "install Kubernetes' container runtime first (e.g. with Kubespray), then run gpu_node"}
counts:
  description: Number of checks per status.
  returned: always
  type: dict
  sample: {pass: 9, warn: 0, fail: 1, skip: 3}
failed_checks:
  description: Names of the checks that failed.
  returned: always
  type: list
  elements: str
  sample: [container_runtime]
report:
  description: The verdicts as plain text, one line per check with its fix.
  returned: always
  type: str
  sample: "GPU node preflight: gpu-0  (pass 9, warn 0, fail 1, skip 3)"
disk:
  description: Free space measured for the model store (null when no path was given).
  returned: always
  type: dict
  sample: {path: /var/lib/llmops/models, checked: /var/lib, free_bytes: 80224337920, total_bytes: 270465425408}
facts:
  description: The GPU facts the verdicts were computed from.
  returned: always
  type: dict
"""

import socket

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._gpu import facts as gpu_facts
from ansible_collections.llmops.vllm_serving.plugins.module_utils._gpu import preflight

_EXPECTATIONS = ("gpu_required", "expected_gpu_count", "expected_gpu_model", "cuda_version", "driver_source", "mig_mode",
                 "container_runtime", "model_store_path", "model_store_min_free_gib", "require_persistence_mode")


def main():
    module = AnsibleModule(
        argument_spec=dict(
            facts=dict(type="dict"),
            gpu_required=dict(type="bool", default=True),
            expected_gpu_count=dict(type="int"),
            expected_gpu_model=dict(type="str"),
            cuda_version=dict(type="str", default="12.9"),
            driver_source=dict(type="str", choices=["host", "operator"], default="host"),
            mig_mode=dict(type="str", choices=["disabled", "enabled", "any"], default="disabled"),
            container_runtime=dict(type="str", choices=["containerd", "crio", "any", "none"], default="containerd"),
            model_store_path=dict(type="path"),
            model_store_min_free_gib=dict(type="float", default=0),
            require_persistence_mode=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    p = module.params

    def run(argv):
        rc, out, err = module.run_command(argv, environ_update={"LC_ALL": "C"})
        return rc, out or "", err or ""

    def which(name):
        return module.get_bin_path(name, required=False, opt_dirs=["/usr/sbin", "/sbin", "/usr/local/bin"])

    try:
        facts = p["facts"] or gpu_facts.collect(run, which)
        if "summary" not in facts:
            raise LlmopsError("facts has no 'summary' key; pass ansible_facts['llmops_gpu'] from llmops.vllm_serving.gpu_facts")
        disk = gpu_facts.disk_free(p["model_store_path"]) if p["model_store_path"] else None
        result = preflight.evaluate(facts, dict((k, p[k]) for k in _EXPECTATIONS), disk)
    except LlmopsError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(
        changed=False,
        checks=result["checks"],
        counts=result["counts"],
        failed_checks=[c["check"] for c in result["checks"] if c["status"] == "fail"],
        report=preflight.render_report(socket.gethostname(), result),
        disk=disk,
        facts=facts,
    )


if __name__ == "__main__":
    main()
