# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Assemble GPU-node facts from what the node offers, and cope with what it lacks.

``collect`` takes the two side-effecting primitives as arguments (``run(argv) -> (rc, stdout, stderr)``
and ``which(name) -> path|None``) so the module passes AnsibleModule's and tests pass recordings.
"""

from __future__ import annotations

import os
import re

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._gpu import catalog, host, nvsmi

# Compute capability per architecture (the lowest of the architecture's GPU records in catalog.py), used
# only when nvidia-smi cannot report compute_cap.
ARCH_COMPUTE_CAPABILITY = catalog.ARCH_COMPUTE_CAPABILITY

_VERSION = re.compile(r"v?(\d+\.\d+(?:\.\d+)?)")


def product_label(name):
    """GPU Feature Discovery's nvidia.com/gpu.product value: the product name with spaces as dashes."""
    return None if not name else re.sub(r"\s+", "-", name.strip())


def _tool_version(run, which, binary, argv_tail=("--version",)):
    path = which(binary)
    if not path:
        return {"present": False, "path": None, "version": None}
    rc, out, err = run([path] + list(argv_tail))
    m = _VERSION.search((out or "") + "\n" + (err or "")) if rc == 0 else None
    return {"present": True, "path": path, "version": m.group(1) if m else None}


def _service_active(run, which, unit):
    systemctl = which("systemctl")
    if not systemctl:
        return None
    rc, out, dummy = run([systemctl, "is-active", unit])
    return rc == 0 and out.strip() == "active"


def summarise(gpus, pci):
    names = sorted({g["name"] for g in gpus if g.get("name")})
    mems = sorted({g["memory_total_mib"] for g in gpus if g.get("memory_total_mib") is not None})
    ccs = sorted({g["compute_capability"] for g in gpus if g.get("compute_capability")})
    mig_cur = [g.get("mig_mode_current") for g in gpus]
    return {
        "count": len(gpus),
        "pci_count": len(pci["gpus"]),
        "model": names[0] if len(names) == 1 else (None if not names else "mixed"),
        "product_label": product_label(names[0]) if len(names) == 1 else None,
        "models": names,
        "homogeneous": len(names) <= 1 and len(mems) <= 1,
        "memory_mib": mems[0] if mems else None,
        "memory_total_mib": sum(g["memory_total_mib"] or 0 for g in gpus),
        "compute_capability": ccs[0] if len(ccs) == 1 else (None if not ccs else "mixed"),
        "mig_enabled": bool(gpus) and all(m is True for m in mig_cur),
        "mig_any_enabled": any(m is True for m in mig_cur),
        "mig_pending_change": any(g.get("mig_mode_pending") is not None and g.get("mig_mode_pending") != g.get("mig_mode_current")
                                  for g in gpus),
        "mig_devices": sum(len(g.get("mig_devices") or []) for g in gpus),
        "persistence_mode": bool(gpus) and all(g.get("persistence_mode") is True for g in gpus),
        "nvswitch": bool(pci["nvswitches"]),
    }


def collect(run, which, root="/", kernel_release=None, nvidia_smi="nvidia-smi", mig_profiles=True):
    """Return the gpu facts dict (see the gpu_facts module's RETURN for its shape)."""
    modules = host.read_modules(root)
    pci = host.scan_pci(root)
    kmod = host.read_driver_version(root)
    release = kernel_release or os.uname()[2]
    facts = {
        "pci": pci,
        "modules": {name: name in modules for name in host.NVIDIA_MODULES + ("nouveau",)},
        "kernel": {"release": release, "headers": host.kernel_headers_present(release, root)},
        "nvidia_smi": {"present": False, "path": None, "rc": None, "error": None},
        "driver": {
            "loaded": "nvidia" in modules,
            "version": None,
            "kernel_module_version": kmod["version"] if kmod else None,
            "kernel_module_flavour": kmod["flavour"] if kmod else None,
            "cuda_version": None,
        },
        "gpus": [],
        "topology": {"nvlink": False, "max_nvlinks": 0},
        "mig_profiles": [],
        "fabric_manager": {"installed": bool(which("nv-fabricmanager")), "active": _service_active(run, which, "nvidia-fabricmanager")},
        "runtimes": {
            "containerd": _tool_version(run, which, "containerd"),
            "crio": _tool_version(run, which, "crio"),
            "docker": _tool_version(run, which, "docker"),
            "nvidia_ctk": _tool_version(run, which, "nvidia-ctk"),
            "nvidia_container_runtime": {"present": bool(which("nvidia-container-runtime")),
                                         "path": which("nvidia-container-runtime"), "version": None},
        },
        "cdi_specs": sorted(
            os.path.join(d, f) for d in ("/etc/cdi", "/var/run/cdi") if os.path.isdir(os.path.join(root, d.lstrip("/")))
            for f in os.listdir(os.path.join(root, d.lstrip("/"))) if f.endswith((".yaml", ".yml", ".json"))),
    }
    smi = which(nvidia_smi) if not os.path.isabs(nvidia_smi) else (nvidia_smi if os.access(nvidia_smi, os.X_OK) else None)
    if smi:
        facts["nvidia_smi"].update(present=True, path=smi)
        rc, out, err = run([smi, "-q", "-x"])
        facts["nvidia_smi"]["rc"] = rc
        if rc != 0:
            facts["nvidia_smi"]["error"] = nvsmi.nvml_error(out + "\n" + err) or (out + err).strip()[:500] or "exit code %d" % rc
        else:
            try:
                parsed = nvsmi.parse_nvidia_smi_xml(out)
            except LlmopsError as exc:
                facts["nvidia_smi"]["error"] = str(exc)
                parsed = None
            if parsed:
                facts["driver"]["version"] = parsed["driver_version"]
                facts["driver"]["cuda_version"] = parsed["cuda_version"]
                facts["gpus"] = parsed["gpus"]
                _add_compute_capability(run, smi, facts["gpus"])
                rc, out, dummy = run([smi, "topo", "-m"])
                if rc == 0:
                    topo = nvsmi.parse_topo(out)
                    facts["topology"] = {"nvlink": topo["nvlink"], "max_nvlinks": topo["max_nvlinks"]}
                if mig_profiles and facts["gpus"]:
                    rc, out, dummy = run([smi, "mig", "-lgip"])
                    if rc == 0:
                        facts["mig_profiles"] = nvsmi.parse_mig_lgip(out)
    if facts["driver"]["version"] is None and kmod:
        facts["driver"]["version"] = kmod["version"]
    facts["summary"] = summarise(facts["gpus"], pci)
    facts["summary"]["nvlink"] = facts["topology"]["nvlink"]
    return facts


def _add_compute_capability(run, smi, gpus):
    rc, out, dummy = run([smi, "--query-gpu=index,uuid,compute_cap", "--format=csv"])
    by_uuid = {}
    if rc == 0:
        try:
            by_uuid = {row.get("uuid"): row.get("compute_cap") for row in nvsmi.parse_query_csv(out)}
        except LlmopsError:
            by_uuid = {}
    for gpu in gpus:
        cc = by_uuid.get(gpu.get("uuid"))
        if not cc or not re.match(r"^\d+\.\d+$", cc):
            cc = ARCH_COMPUTE_CAPABILITY.get(gpu.get("architecture") or "")
        gpu["compute_capability"] = cc


def disk_free(path):
    """Free bytes for ``path`` or its nearest existing parent (the model store may not exist yet)."""
    probe = os.path.abspath(path)
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    st = os.statvfs(probe)
    return {"path": path, "checked": probe, "free_bytes": st.f_bavail * st.f_frsize, "total_bytes": st.f_blocks * st.f_frsize}
