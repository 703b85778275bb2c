# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the kernel says about NVIDIA hardware, without lspci or lsmod: sysfs PCI scan, /proc/modules,
/proc/driver/nvidia/version. Every reader takes a ``root`` so tests (and fixture-driven Molecule
scenarios) can point it at a captured tree."""

from __future__ import annotations

import os
import re

from ansible_collections.llmops.vllm_serving.plugins.module_utils._gpu import catalog

NVIDIA_VENDOR = "0x10de"

# PCI class codes (sysfs "class" is 0xCCSSPP): display controllers and "other bridge" (NVSwitch).
_CLASS_VGA = "0x0300"
_CLASS_3D = "0x0302"
_CLASS_BRIDGE_OTHER = "0x0680"

# NVSwitch PCI device ids, from the PCI ID repository (pci.ids, vendor 10de).
NVSWITCH_DEVICE_IDS = {
    "0x1ac0": "NVSwitch (Volta)",
    "0x1ac1": "NVSwitch (Volta)",
    "0x1ac2": "NVSwitch (Volta)",
    "0x1af1": "NVSwitch (Ampere, HGX A100)",
    "0x22a3": "NVSwitch (Hopper, HGX H100/H200)",
    "0x22a4": "NVSwitch (Hopper)",
}

# GPU device ids -> product name (pci.ids), so facts name the GPU even when the driver is not loaded;
# derived from the GPU records of catalog.py.
GPU_DEVICE_IDS = catalog.PCI_DEVICE_IDS

# Kernel modules the preflight cares about (names as /proc/modules spells them).
NVIDIA_MODULES = ("nvidia", "nvidia_uvm", "nvidia_modeset", "nvidia_drm", "nvidia_peermem", "nvidia_fs")


def _read(path):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except OSError:
        return None


def scan_pci(root="/"):
    """List NVIDIA PCI functions from ``<root>/sys/bus/pci/devices``.

    Returns {gpus: [{address, device_id, class, model}], nvswitches: [{address, device_id, model}]}.
    """
    base = os.path.join(root, "sys/bus/pci/devices")
    gpus, switches = [], []
    try:
        entries = sorted(os.listdir(base))
    except OSError:
        entries = []
    for addr in entries:
        dev = os.path.join(base, addr)
        if (_read(os.path.join(dev, "vendor")) or "").lower() != NVIDIA_VENDOR:
            continue
        device_id = (_read(os.path.join(dev, "device")) or "").lower()
        klass = (_read(os.path.join(dev, "class")) or "").lower()
        item = {"address": addr, "device_id": device_id, "class": klass}
        if klass.startswith(_CLASS_3D) or klass.startswith(_CLASS_VGA):
            item["model"] = GPU_DEVICE_IDS.get(device_id)
            gpus.append(item)
        elif klass.startswith(_CLASS_BRIDGE_OTHER) or device_id in NVSWITCH_DEVICE_IDS:
            item["model"] = NVSWITCH_DEVICE_IDS.get(device_id, "NVIDIA bridge")
            switches.append(item)
    return {"gpus": gpus, "nvswitches": switches}


def parse_sysfs_listing(text):
    """Parse the ``<path> <device> <class>`` listing format of tests/fixtures/h200/pci_nvidia_sysfs.txt
    (one NVIDIA function per line) into the same shape as :func:`scan_pci`."""
    gpus, switches = [], []
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) != 3:
            continue
        addr = os.path.basename(parts[0])
        device_id, klass = parts[1].lower(), parts[2].lower()
        item = {"address": addr, "device_id": device_id, "class": klass}
        if klass.startswith(_CLASS_3D) or klass.startswith(_CLASS_VGA):
            item["model"] = GPU_DEVICE_IDS.get(device_id)
            gpus.append(item)
        else:
            item["model"] = NVSWITCH_DEVICE_IDS.get(device_id, "NVIDIA bridge")
            switches.append(item)
    return {"gpus": gpus, "nvswitches": switches}


def parse_proc_modules(text):
    """Parse /proc/modules into {name: {size, refcount, state, taint}}."""
    modules = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) < 5:
            continue
        taint = ""
        if len(parts) >= 7 and parts[6].startswith("("):
            taint = parts[6].strip("()")
        modules[parts[0]] = {"size": int(parts[1]) if parts[1].isdigit() else None, "state": parts[4], "taint": taint}
    return modules


_NVRM = re.compile(r"^NVRM version:\s+(.*?)\s+(\d+\.\d+(?:\.\d+)?)\s+", re.M)


def parse_driver_version_file(text):
    """Parse /proc/driver/nvidia/version: {version, flavour ('open'|'proprietary'), line}; None when absent."""
    if not text:
        return None
    m = _NVRM.search(text)
    if not m:
        return None
    desc = m.group(1)
    return {
        "version": m.group(2),
        "flavour": "open" if "Open Kernel Module" in desc else "proprietary",
        "line": text.splitlines()[0].strip(),
    }


def read_modules(root="/"):
    return parse_proc_modules(_read(os.path.join(root, "proc/modules")) or "")


def read_driver_version(root="/"):
    return parse_driver_version_file(_read(os.path.join(root, "proc/driver/nvidia/version")))


def kernel_headers_present(release, root="/"):
    """Kernel headers for ``release`` are installed when /lib/modules/<release>/build exists (DKMS and the
    GPU Operator's driver container both build against it)."""
    return os.path.isdir(os.path.join(root, "lib/modules", release, "build"))
