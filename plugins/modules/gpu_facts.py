#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: gpu_facts
short_description: Gather NVIDIA GPU facts from a node, coping with what it lacks
version_added: 0.1.0
description:
  - Reads what a real node offers - C(nvidia-smi -q -x) (XML), C(nvidia-smi --query-gpu) for compute capability,
    C(nvidia-smi topo -m) for NVLink, C(nvidia-smi mig -lgip) for MIG profiles, the sysfs PCI scan for vendor 0x10de
    (works without lspci), C(/proc/modules) (works without lsmod) and C(/proc/driver/nvidia/version).
  - Also reports nouveau, kernel headers, NVIDIA fabric manager, container runtimes (containerd, CRI-O, Docker),
    the NVIDIA container toolkit and CDI specs.
  - A node without GPUs, without C(nvidia-smi) or without a loaded driver is a normal result, not a module failure.
  - Returns the facts as C(ansible_facts.llmops_gpu).
author:
  - llmops contributors (@llmops)
options:
  nvidia_smi:
    description:
      - Name (looked up in C(PATH)) or absolute path of the C(nvidia-smi) binary.
    type: str
    default: nvidia-smi
  root:
    description:
      - Directory under which C(proc/) and C(sys/) are read instead of C(/proc) and C(/sys).
      - For tests and fixture replays; leave at C(/) on real nodes.
    type: path
    default: /
  mig_profiles:
    description:
      - Also list the MIG GPU instance profiles the GPUs offer (C(nvidia-smi mig -lgip)).
    type: bool
    default: true
extends_documentation_fragment:
  - llmops.vllm_serving._attributes
  - llmops.vllm_serving._attributes.INFO_MODULE
  - llmops.vllm_serving._attributes.ACTIONGROUP_VLLM_SERVING
notes:
  - Memory per GPU is what C(nvidia-smi) reports as total framebuffer; the CUDA runtime reports slightly less
    (on an H200, 143771 MiB vs 143155 MiB), and vLLM sizes from the CUDA figure.
seealso:
  - module: llmops.vllm_serving.gpu_preflight
"""

EXAMPLES = r"""
- name: Gather GPU facts
  llmops.vllm_serving.gpu_facts:

- name: Show the GPU model and count
  ansible.builtin.debug:
    msg: "{{ ansible_facts['llmops_gpu']['summary']['count'] }} x {{ ansible_facts['llmops_gpu']['summary']['model'] }}"

- name: Use a non-standard nvidia-smi location
  llmops.vllm_serving.gpu_facts:
    nvidia_smi: /usr/local/nvidia/bin/nvidia-smi
"""

RETURN = r"""
ansible_facts:
  description: Facts to add to ansible_facts.
  returned: always
  type: dict
  contains:
    llmops_gpu:
      description: GPU facts of the node.
      returned: always
      type: dict
      contains:
        summary:
          description: Node summary used by sizing, the preflight and the gpu_operator role.
          type: dict
          returned: always
          sample:
            count: 1
            pci_count: 1
            model: NVIDIA H200
            product_label: NVIDIA-H200
            models: [NVIDIA H200]
            homogeneous: true
            memory_mib: 143771
            memory_total_mib: 143771
            compute_capability: "9.0"
            mig_enabled: false
            mig_any_enabled: false
            mig_pending_change: false
            mig_devices: 0
            persistence_mode: true
            nvswitch: false
            nvlink: false
        gpus:
          description: One entry per GPU reported by nvidia-smi (empty when the driver is not loaded).
          type: list
          elements: dict
          returned: always
          sample:
            - index: 0
              name: NVIDIA H200
              architecture: Hopper
              uuid: GPU-a1f914b4-debe-c8d7-d663-c68fcfdf0c10
              pci_bus_id: "00000000:00:06.0"
              memory_total_mib: 143771
              compute_capability: "9.0"
              mig_mode_current: false
              mig_mode_pending: false
              mig_devices: []
              persistence_mode: true
              ecc_mode: true
              ecc_uncorrectable_volatile: 0
              remapped_rows_pending: false
              remapped_rows_failure: false
        driver:
          description: Driver state.
          type: dict
          returned: always
          sample:
            loaded: true
            version: 580.159.04
            kernel_module_version: 580.159.04
            kernel_module_flavour: open
            cuda_version: "13.0"
        nvidia_smi:
          description: Whether nvidia-smi exists and what it said when it failed (NVML's own words).
          type: dict
          returned: always
          sample:
            present: true
            path: /usr/bin/nvidia-smi
            rc: 9
            error: >-
              NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.
              Make sure that the latest NVIDIA driver is installed and running.
        pci:
          description: NVIDIA PCI functions from sysfs, GPUs and NVSwitches.
          type: dict
          returned: always
          sample: {gpus: [{address: "0000:00:06.0", device_id: "0x2335", class: "0x030200", model: H200}], nvswitches: []}
        modules:
          description: Whether each NVIDIA kernel module (and nouveau) is loaded, from /proc/modules.
          type: dict
          returned: always
          sample: {nvidia: true, nvidia_uvm: true, nvidia_modeset: false, nvidia_drm: false, nvidia_peermem: false,
                   nvidia_fs: false, nouveau: false}
        kernel:
          description: Running kernel release and whether its headers are installed.
          type: dict
          returned: always
          sample: {release: 6.8.0-49-generic, headers: true}
        topology:
          description: NVLink presence from nvidia-smi topo -m.
          type: dict
          returned: always
          sample: {nvlink: false, max_nvlinks: 0}
        mig_profiles:
          description: MIG GPU instance profiles (nvidia-smi mig -lgip).
          type: list
          elements: dict
          returned: always
          sample: [{gpu: 0, profile: 1g.18gb, id: 19, instances_free: 7, instances_total: 7, memory_gib: 16.0, sm: 16}]
        fabric_manager:
          description: Whether nv-fabricmanager is installed and its service active (null when systemd is absent).
          type: dict
          returned: always
          sample: {installed: false, active: null}
        runtimes:
          description: Container runtimes and NVIDIA container toolkit binaries found on the node, with versions.
          type: dict
          returned: always
          sample:
            containerd: {present: true, path: /usr/bin/containerd, version: 1.6.20}
            crio: {present: false, path: null, version: null}
            docker: {present: false, path: null, version: null}
            nvidia_ctk: {present: false, path: null, version: null}
            nvidia_container_runtime: {present: false, path: null, version: null}
        cdi_specs:
          description: CDI spec files under /etc/cdi and /var/run/cdi.
          type: list
          elements: str
          returned: always
          sample: [/etc/cdi/nvidia.yaml]
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._gpu import facts as gpu_facts


def main():
    module = AnsibleModule(
        argument_spec=dict(
            nvidia_smi=dict(type="str", default="nvidia-smi"),
            root=dict(type="path", default="/"),
            mig_profiles=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )

    def run(argv):
        rc, out, err = module.run_command(argv, environ_update={"LC_ALL": "C"})
        return rc, out or "", err or ""

    def which(name):
        return module.get_bin_path(name, required=False, opt_dirs=["/usr/sbin", "/sbin", "/usr/local/bin"])

    if not os.path.isdir(module.params["root"]):
        module.fail_json(msg="root=%s is not a directory; use / on a real node" % module.params["root"])
    try:
        facts = gpu_facts.collect(run, which, root=module.params["root"], nvidia_smi=module.params["nvidia_smi"],
                                  mig_profiles=module.params["mig_profiles"])
    except LlmopsError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, ansible_facts={"llmops_gpu": facts})


if __name__ == "__main__":
    main()
