#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: nvidia_containerd_config
short_description: Add the NVIDIA runtime to containerd through a drop-in file, without clobbering config.toml
version_added: 0.1.0
description:
  - Writes a drop-in file (default C(/etc/containerd/conf.d/99-nvidia.toml)) that defines the NVIDIA runtime, optionally
    as the default runtime, and enables CDI where containerd supports it (1.7+).
  - containerd 1.x (config version 2) replaces a whole plugin section on import, so for 1.x the drop-in carries the
    effective CRI plugin section of config.toml and earlier drop-ins plus the NVIDIA runtime (what nvidia-ctk does too).
    containerd 2.x (config version 3) merges imports key by key, so its drop-in holds only the NVIDIA additions.
  - C(config.toml) is changed at most by adding the drop-in directory to its top-level C(imports); when it does not
    exist it is created holding only C(version) and C(imports). The C(actions) return value says what was done.
  - Restarting containerd is left to the caller (a handler), so it happens only when something changed.
author:
  - llmops contributors (@llmops)
options:
  config_path:
    description: containerd's main configuration file.
    type: path
    default: /etc/containerd/config.toml
  drop_in_path:
    description: The drop-in file to manage; its directory is what C(imports) must cover.
    type: path
    default: /etc/containerd/conf.d/99-nvidia.toml
  containerd_version:
    description:
      - containerd version (C(1.6.20), C(1.7.24), C(2.1.4)); read from C(containerd --version) when omitted.
    type: str
  runtime_name:
    description: Name of the runtime (and of the Kubernetes RuntimeClass handler).
    type: str
    default: nvidia
  runtime_binary:
    description: Path of the NVIDIA container runtime binary.
    type: path
    default: /usr/bin/nvidia-container-runtime
  set_as_default:
    description: Make the NVIDIA runtime containerd's default CRI runtime.
    type: bool
    default: false
  enable_cdi:
    description: Enable the Container Device Interface in the CRI plugin (containerd 1.7+; 2.x enables it by default).
    type: bool
    default: true
  manage_imports:
    description:
      - Add the drop-in directory to C(imports) of C(config_path) when it is not covered.
      - When false and it is not covered, the module fails and says what to add.
    type: bool
    default: true
  state:
    description: C(present) writes the drop-in; C(absent) removes it (C(imports) is left as is).
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - llmops.vllm_serving._attributes
  - llmops.vllm_serving._attributes.ACTIONGROUP_VLLM_SERVING
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
requirements:
  - Python >= 3.11 on the node (tomllib), or the tomli package.
notes:
  - Verify the result with containerd's own tooling, C(containerd config dump), which prints the merged configuration.
  - A config.toml templated by another tool (for example Kubespray) may lose the C(imports) line on that tool's next run;
    configure the other tool to keep C(/etc/containerd/conf.d/*.toml) in its imports, or rerun this module after it.
seealso:
  - name: containerd issue 5837, plugin sections replaced on import
    description: Why the 1.x drop-in carries the whole CRI section.
    link: https://github.com/containerd/containerd/issues/5837
"""

EXAMPLES = r"""
- name: NVIDIA runtime for containerd, as a drop-in
  llmops.vllm_serving.nvidia_containerd_config:
  notify: gpu_node restart containerd

- name: NVIDIA runtime as the default runtime, on a containerd 2.x node
  llmops.vllm_serving.nvidia_containerd_config:
    set_as_default: true
    containerd_version: "2.1.4"
"""

RETURN = r"""
drop_in_path:
  description: The drop-in file managed.
  returned: always
  type: str
  sample: /etc/containerd/conf.d/99-nvidia.toml
config_version:
  description: The containerd config version written (2 for containerd 1.x, 3 for 2.x).
  returned: always
  type: int
  sample: 2
containerd_version:
  description: The containerd version the plan was made for.
  returned: always
  type: str
  sample: 1.6.20
main_config_changed:
  description: Whether config.toml was (or would be) changed; only ever by adding to imports or creating it.
  returned: always
  type: bool
  sample: true
actions:
  description: What was (or would be) done, in words.
  returned: always
  type: list
  elements: str
  sample:
    - added /etc/containerd/conf.d/*.toml to imports of /etc/containerd/config.toml (nothing else in it changed)
diff:
  description: Before and after of each file that changes.
  returned: when diff mode is on and something changes
  type: list
  elements: dict
"""

import os
import re
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._gpu import containerd


def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return None


def _write(module, path, text, mode):
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(path))
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, mode)
    module.atomic_move(tmp, path)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            config_path=dict(type="path", default="/etc/containerd/config.toml"),
            drop_in_path=dict(type="path", default="/etc/containerd/conf.d/99-nvidia.toml"),
            containerd_version=dict(type="str"),
            runtime_name=dict(type="str", default="nvidia"),
            runtime_binary=dict(type="path", default="/usr/bin/nvidia-container-runtime"),
            set_as_default=dict(type="bool", default=False),
            enable_cdi=dict(type="bool", default=True),
            manage_imports=dict(type="bool", default=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    version = p["containerd_version"]
    if not version:
        binary = module.get_bin_path("containerd", required=False, opt_dirs=["/usr/local/bin", "/usr/sbin"])
        if not binary:
            module.fail_json(msg="containerd is not installed on this node (not in PATH) and containerd_version is not set; "
                                 "install containerd first or set containerd_version")
        rc, out, err = module.run_command([binary, "--version"])
        m = re.search(r"\bv?(\d+\.\d+\.\d+)", out or "")
        if rc != 0 or not m:
            module.fail_json(msg="cannot read the containerd version from '%s --version' (rc=%s): %s" % (binary, rc, (out or err).strip()))
        version = m.group(1)

    main_text = _read(p["config_path"])
    drop_text = _read(p["drop_in_path"])
    try:
        result = containerd.plan(version, p["config_path"], main_text, p["drop_in_path"], drop_text, _read,
                                 runtime_name=p["runtime_name"], runtime_binary=p["runtime_binary"],
                                 set_as_default=p["set_as_default"], enable_cdi=p["enable_cdi"],
                                 manage_imports=p["manage_imports"], state=p["state"])
    except LlmopsError as exc:
        module.fail_json(msg=str(exc))

    main_changed = result["main_text"] != main_text
    drop_changed = result["drop_in_text"] != drop_text
    diff = []
    if main_changed:
        diff.append({"before_header": p["config_path"], "after_header": p["config_path"],
                     "before": main_text or "", "after": result["main_text"] or ""})
    if drop_changed:
        diff.append({"before_header": p["drop_in_path"], "after_header": p["drop_in_path"],
                     "before": drop_text or "", "after": result["drop_in_text"] or ""})
    if not module.check_mode:
        if main_changed:
            _write(module, p["config_path"], result["main_text"], 0o644)
        if drop_changed:
            if result["drop_in_text"] is None:
                os.remove(p["drop_in_path"])
            else:
                _write(module, p["drop_in_path"], result["drop_in_text"], 0o644)
    out = dict(changed=main_changed or drop_changed, drop_in_path=p["drop_in_path"], config_version=result["config_version"],
               containerd_version=version, main_config_changed=main_changed,
               actions=result["actions"] if (main_changed or drop_changed) else [])
    if module._diff and diff:
        out["diff"] = diff
    module.exit_json(**out)


if __name__ == "__main__":
    main()
