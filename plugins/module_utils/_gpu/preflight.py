# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Preflight verdicts for a GPU node: pass / warn / fail / skip, each with the reason and the fix.

Pure function of the facts (see facts.collect) and the expectations from the inventory; changes nothing.
"""

from __future__ import annotations

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._gpu import cuda
from ansible_collections.llmops.vllm_serving.plugins.module_utils._gpu.facts import product_label

STATUSES = ("pass", "warn", "fail", "skip")
DRIVER_SOURCES = ("host", "operator")
MIG_MODES = ("disabled", "enabled", "any")
RUNTIMES = ("containerd", "crio", "any", "none")

DEFAULTS = {
    "gpu_required": True,
    "expected_gpu_count": None,
    "expected_gpu_model": None,
    "cuda_version": "12.9",
    "driver_source": "host",
    "mig_mode": "disabled",
    "container_runtime": "containerd",
    "model_store_path": None,
    "model_store_min_free_gib": 0,
    "require_persistence_mode": False,
}


def _check(name, status, reason, fix=""):
    return {"check": name, "status": status, "reason": reason, "fix": fix if status in ("warn", "fail") else ""}


def normalise_expectations(expect):
    out = dict(DEFAULTS)
    out.update({k: v for k, v in (expect or {}).items() if v is not None})
    unknown = sorted(set(out) - set(DEFAULTS))
    if unknown:
        raise LlmopsError("unknown preflight expectation(s) %s; known: %s" % (", ".join(unknown), ", ".join(sorted(DEFAULTS))))
    for key, allowed in (("driver_source", DRIVER_SOURCES), ("mig_mode", MIG_MODES), ("container_runtime", RUNTIMES)):
        if out[key] not in allowed:
            raise LlmopsError("%s=%r is not valid; use one of %s" % (key, out[key], ", ".join(allowed)))
    if out["expected_gpu_count"] is not None and int(out["expected_gpu_count"]) < 0:
        raise LlmopsError("expected_gpu_count=%r must be >= 0" % out["expected_gpu_count"])
    cuda.toolkit_key(out["cuda_version"])  # raises with the accepted form
    return out


def _same_model(expected, actual):
    """Accept the product name ('NVIDIA H200') or GFD's label ('NVIDIA-H200'), case-insensitively."""
    return (product_label(expected) or "").lower() == (product_label(actual) or "").lower()


def evaluate(facts, expect=None, disk=None):
    """Return {checks: [...], counts: {pass, warn, fail, skip}, failed: bool}."""
    e = normalise_expectations(expect)
    s = facts["summary"]
    drv = facts["driver"]
    smi = facts["nvidia_smi"]
    checks = []
    pci_n = s["pci_count"]
    operator_driver = e["driver_source"] == "operator"

    # 1. devices on the bus (works without a driver)
    if pci_n > 0 or s["count"] > 0:
        checks.append(_check("nvidia_devices", "pass", "%d NVIDIA GPU(s) on the PCI bus" % max(pci_n, s["count"])))
    elif e["gpu_required"]:
        checks.append(_check("nvidia_devices", "fail", "no NVIDIA GPU (vendor 0x10de, class 0x03xx) in /sys/bus/pci/devices",
                             "run on a GPU node, or move this host out of the GPU node group of the inventory"))
    else:
        checks.append(_check("nvidia_devices", "skip", "no NVIDIA GPU and none required (gpu_required=false)"))
    has_gpu = pci_n > 0 or s["count"] > 0

    # 2. nouveau
    if facts["modules"].get("nouveau"):
        checks.append(_check("nouveau", "fail", "the nouveau kernel module is loaded; the NVIDIA driver cannot bind the GPUs",
                             "blacklist nouveau (options nouveau modeset=0 in /etc/modprobe.d), rebuild the initramfs and reboot"))
    else:
        checks.append(_check("nouveau", "pass", "nouveau is not loaded"))

    # 3. driver loaded and answering (also judged without a GPU on the bus when nvidia-smi is installed: a node
    #    with the userland but no working driver is what a half-done install looks like)
    if not has_gpu and not (smi["present"] and e["gpu_required"]):
        checks.append(_check("driver_loaded", "skip", "no NVIDIA GPU, no driver needed"))
    elif drv["loaded"] and smi["present"] and not smi["error"]:
        checks.append(_check("driver_loaded", "pass", "nvidia kernel module loaded; nvidia-smi reports driver %s (%s kernel module)" % (
            drv["version"], drv.get("kernel_module_flavour") or "unknown")))
    elif operator_driver and not drv["loaded"]:
        checks.append(_check("driver_loaded", "pass", "no host driver loaded, as expected: the GPU Operator's driver container provides it"))
    else:
        why = []
        if not drv["loaded"]:
            why.append("the nvidia kernel module is not in /proc/modules")
        if not smi["present"]:
            why.append("nvidia-smi is not installed")
        elif smi["error"]:
            why.append("nvidia-smi failed: %s" % smi["error"])
        checks.append(_check("driver_loaded", "fail", "; ".join(why),
                             "install the NVIDIA driver (gpu_node_driver_install=true installs the distribution's packages) and "
                             "load it (modprobe nvidia, or reboot after install); or set gpu_node_driver_source=operator to let "
                             "the GPU Operator provide it"))

    # 4. driver new enough for the image's CUDA
    if not has_gpu:
        checks.append(_check("driver_cuda", "skip", "no NVIDIA GPU"))
    elif drv["version"]:
        status, reason = cuda.check_driver(drv["version"], e["cuda_version"])
        fix = ""
        if status != "pass":
            req = cuda.driver_requirement(e["cuda_version"])
            fix = "upgrade the driver to >= %s, or deploy a vLLM image built for an older CUDA" % req["full_driver"]
        checks.append(_check("driver_cuda", status, reason + " (image CUDA %s)" % e["cuda_version"], fix))
    elif operator_driver:
        req = cuda.driver_requirement(e["cuda_version"])
        checks.append(_check("driver_cuda", "warn", "no host driver to check; the GPU Operator's driver must be >= %s for CUDA %s" % (
            req["full_driver"], req["cuda"]), "set the gpu_operator driver version to >= %s" % req["full_driver"]))
    else:
        checks.append(_check("driver_cuda", "fail", "driver version unknown (driver not loaded)", "load the NVIDIA driver first"))

    # 5. count and model
    count = s["count"] if s["count"] else pci_n
    if e["expected_gpu_count"] is None:
        checks.append(_check("gpu_count", "skip", "no expected count in the inventory (found %d)" % count))
    elif int(e["expected_gpu_count"]) == count:
        checks.append(_check("gpu_count", "pass", "%d GPU(s), as the inventory expects" % count))
    else:
        checks.append(_check("gpu_count", "fail", "found %d GPU(s), the inventory expects %d" % (count, int(e["expected_gpu_count"])),
                             "fix gpu_node_expected_gpu_count for this host, or check for GPUs fallen off the bus (dmesg | grep -i xid)"))
    model = s["model"] or (facts["pci"]["gpus"][0].get("model") if facts["pci"]["gpus"] else None)
    if e["expected_gpu_model"] is None:
        checks.append(_check("gpu_model", "skip", "no expected model in the inventory (found %s)" % (model or "none")))
    elif model and _same_model(e["expected_gpu_model"], model):
        checks.append(_check("gpu_model", "pass", "%s, as the inventory expects" % model))
    elif model and not s["model"] and e["expected_gpu_model"].lower().endswith(model.lower()):
        checks.append(_check("gpu_model", "pass", "PCI device id says %s (driver not loaded), as the inventory expects" % model))
    else:
        checks.append(_check("gpu_model", "fail", "found %s, the inventory expects %s" % (model or "no GPU", e["expected_gpu_model"]),
                             "set gpu_node_expected_gpu_model to the GPU Feature Discovery product label of this host (e.g. %s)" % (
                                 product_label(model) if model else "NVIDIA-H100-80GB-HBM3")))

    # 6. homogeneous
    if s["count"] <= 1:
        checks.append(_check("homogeneous", "pass" if s["count"] == 1 else "skip", "%d GPU reported" % s["count"]))
    elif s["homogeneous"]:
        checks.append(_check("homogeneous", "pass", "all %d GPUs are %s with %s MiB" % (s["count"], s["model"], s["memory_mib"])))
    else:
        checks.append(_check("homogeneous", "fail", "GPUs differ: models %s" % ", ".join(s["models"]),
                             "vLLM tensor parallelism needs identical GPUs: split the node's GPUs into separate pools or replace the odd one"))

    # 7. MIG
    if not s["count"]:
        checks.append(_check("mig", "skip", "no GPU reported by nvidia-smi"))
    elif e["mig_mode"] == "any":
        checks.append(_check("mig", "pass", "MIG %s; any mode accepted" % ("enabled" if s["mig_any_enabled"] else "disabled")))
    else:
        want = e["mig_mode"] == "enabled"
        ok = (s["mig_enabled"] if want else not s["mig_any_enabled"])
        if ok and not s["mig_pending_change"]:
            checks.append(_check("mig", "pass", "MIG %s on all GPUs, as desired" % e["mig_mode"]))
        elif ok:
            checks.append(_check("mig", "warn", "MIG is %s but a mode change is pending" % e["mig_mode"],
                                 "reset the GPUs (nvidia-smi -r) or reboot to apply the pending MIG mode"))
        else:
            checks.append(_check("mig", "fail", "MIG is %s, desired %s" % ("enabled" if s["mig_any_enabled"] else "disabled", e["mig_mode"]),
                                 "nvidia-smi -mig %d, then reset the GPUs; or let the GPU Operator's MIG manager do it "
                                 "(gpu_operator_mig_strategy), or set gpu_node_mig_mode" % (1 if want else 0)))

    # 8. fabric manager on NVSwitch systems
    if not s["nvswitch"]:
        checks.append(_check("fabric_manager", "skip", "no NVSwitch on the PCI bus; fabric manager not needed"))
    elif operator_driver:
        checks.append(_check("fabric_manager", "pass", "NVSwitch present; the GPU Operator's driver container runs fabric manager"))
    elif facts["fabric_manager"]["installed"] and facts["fabric_manager"]["active"]:
        checks.append(_check("fabric_manager", "pass", "NVSwitch present and nvidia-fabricmanager is active"))
    else:
        checks.append(_check("fabric_manager", "fail", "NVSwitch present (%d) but nvidia-fabricmanager is %s" % (
            len(facts["pci"]["nvswitches"]), "not installed" if not facts["fabric_manager"]["installed"] else "not active"),
            "install nvidia-fabricmanager matching driver %s and enable it (systemctl enable --now nvidia-fabricmanager); "
            "without it CUDA reports no devices on HGX systems" % (drv["version"] or "<driver>")))

    # 9. kernel headers when the operator builds the driver
    if not operator_driver:
        checks.append(_check("kernel_headers", "skip", "driver comes from the host (gpu_node_driver_source=host)"))
    elif facts["kernel"]["headers"]:
        checks.append(_check("kernel_headers", "pass", "headers for kernel %s present" % facts["kernel"]["release"]))
    else:
        checks.append(_check("kernel_headers", "fail", "no /lib/modules/%s/build: the GPU Operator's driver container cannot compile "
                                                       "the driver for this kernel" % facts["kernel"]["release"],
                             "install linux-headers-%s (apt) or kernel-devel-%s (dnf), or use precompiled driver images" % (
                                 facts["kernel"]["release"], facts["kernel"]["release"])))

    # 10. disk for the model store
    if not e["model_store_path"]:
        checks.append(_check("model_store_disk", "skip", "no model store path given"))
    elif disk is None:
        checks.append(_check("model_store_disk", "skip", "disk not measured"))
    else:
        need = float(e["model_store_min_free_gib"]) * 2 ** 30
        free_gib = disk["free_bytes"] / 2.0 ** 30
        if disk["free_bytes"] >= need:
            checks.append(_check("model_store_disk", "pass", "%.1f GiB free at %s (need %s GiB)" % (
                free_gib, disk["checked"], e["model_store_min_free_gib"])))
        else:
            checks.append(_check("model_store_disk", "fail", "%.1f GiB free at %s, the model store needs %s GiB" % (
                free_gib, disk["checked"], e["model_store_min_free_gib"]),
                "free space or point gpu_node_model_store_path at a larger filesystem"))

    # 11. container runtime
    rt = facts["runtimes"]
    if e["container_runtime"] == "none":
        checks.append(_check("container_runtime", "skip", "no container runtime required (container_runtime=none)"))
    else:
        wanted = ("containerd", "crio") if e["container_runtime"] == "any" else (e["container_runtime"],)
        found = ["%s %s" % (w, rt[w]["version"] or "") for w in wanted if rt[w]["present"]]
        if found:
            checks.append(_check("container_runtime", "pass", "found %s" % ", ".join(x.strip() for x in found)))
        else:
            checks.append(_check("container_runtime", "fail", "no %s on this node" % " or ".join(wanted),
                                 "install Kubernetes' container runtime first (e.g. with Kubespray), then run gpu_node"))

    # 12. GPU health (ECC / row remapping) and persistence
    if s["count"]:
        bad = [g for g in facts["gpus"] if g.get("remapped_rows_failure")]
        pending = [g for g in facts["gpus"] if g.get("remapped_rows_pending") or g.get("ecc_uncorrectable_volatile")]
        if bad:
            checks.append(_check("gpu_health", "fail", "row remapping failed on GPU(s) %s" % ", ".join(str(g["index"]) for g in bad),
                                 "the GPU needs an RMA; drain the node"))
        elif pending:
            checks.append(_check("gpu_health", "warn", "uncorrectable ECC errors or pending row remaps on GPU(s) %s" % ", ".join(
                str(g["index"]) for g in pending), "reset the GPU (nvidia-smi -r) or reboot to apply the remap"))
        else:
            checks.append(_check("gpu_health", "pass", "no uncorrectable ECC errors, no pending or failed row remaps"))
        if s["persistence_mode"]:
            checks.append(_check("persistence_mode", "pass", "persistence mode on"))
        else:
            checks.append(_check("persistence_mode", "fail" if e["require_persistence_mode"] else "warn", "persistence mode off",
                                 "enable nvidia-persistenced (systemctl enable --now nvidia-persistenced)"))
    counts = dict((k, 0) for k in STATUSES)
    for c in checks:
        counts[c["status"]] += 1
    return {"checks": checks, "counts": counts, "failed": counts["fail"] > 0}


def render_report(host, result):
    """A plain-text report: one line per check, reason and fix."""
    lines = ["GPU node preflight: %s  (pass %d, warn %d, fail %d, skip %d)" % (
        host, result["counts"]["pass"], result["counts"]["warn"], result["counts"]["fail"], result["counts"]["skip"])]
    for c in result["checks"]:
        lines.append("  [%s] %-18s %s" % (c["status"].upper(), c["check"], c["reason"]))
        if c["fix"]:
            lines.append("  %s fix: %s" % (" " * 24, c["fix"]))
    return "\n".join(lines) + "\n"
