# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parsers for ``nvidia-smi`` output: ``-q -x`` (XML), ``--query-gpu`` CSV, ``topo -m`` and ``mig -lgip``.

Formats follow the real output captured on an H200 host (tests/fixtures/h200) and NVIDIA's
nvsmi_device DTD (element names such as ``fb_memory_usage/total``, ``mig_mode/current_mig``).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError

_NA = ("N/A", "", "Not Supported", "[N/A]", "[Not Supported]", "Unknown Error", "Requested functionality has been deprecated")

# What nvidia-smi prints when NVML cannot talk to the kernel driver (driver not loaded / mismatched).
_NVML_FAIL = re.compile(r"(Failed to initialize NVML: .*|NVIDIA-SMI has failed because .*|Driver/library version mismatch.*)")


def _text(node, path, default=None):
    if node is None:
        return default
    el = node.find(path)
    if el is None or el.text is None:
        return default
    value = el.text.strip()
    return default if value in _NA else value


def _mib(value):
    """'143771 MiB' -> 143771; None for N/A."""
    if value is None:
        return None
    m = re.match(r"^\s*(\d+)\s*MiB\s*$", value)
    return int(m.group(1)) if m else None


def _int(value):
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _enabled(value):
    if value is None:
        return None
    return value.strip().lower() in ("enabled", "yes", "on", "true")


def nvml_error(output):
    """Return NVIDIA's own failure line when ``nvidia-smi`` could not reach the driver, else None."""
    m = _NVML_FAIL.search(output or "")
    return m.group(1).strip() if m else None


def _mig_devices(gpu):
    devices = []
    container = gpu.find("mig_devices")
    if container is None:
        return devices
    for dev in container.findall("mig_device"):
        devices.append({
            "index": _int(_text(dev, "index")),
            "gpu_instance_id": _int(_text(dev, "gpu_instance_id")),
            "compute_instance_id": _int(_text(dev, "compute_instance_id")),
            "memory_total_mib": _mib(_text(dev, "fb_memory_usage/total")),
            "sm_count": _int(_text(dev, "device_attributes/shared/multiprocessor_count")),
        })
    return devices


def _gpu(gpu, minor_fallback):
    ecc_volatile_unc = 0
    ecc_aggregate_unc = 0
    for scope, acc in (("volatile", "v"), ("aggregate", "a")):
        node = gpu.find("ecc_errors/" + scope)
        if node is None:
            continue
        total = 0
        for child in node:
            if "uncorrectable" in child.tag or child.tag in ("double_bit",):
                total += _int((child.text or "").strip()) or 0
            for sub in child:  # older layouts: <double_bit><total>N</total></double_bit>
                if sub.tag == "total" and "double" in child.tag:
                    total += _int((sub.text or "").strip()) or 0
        if acc == "v":
            ecc_volatile_unc = total
        else:
            ecc_aggregate_unc = total
    retired = 0
    for kind in ("multiple_single_bit_retirement", "double_bit_retirement"):
        retired += _int(_text(gpu, "retired_pages/%s/retired_count" % kind)) or 0
    current_mig = _text(gpu, "mig_mode/current_mig")
    pending_mig = _text(gpu, "mig_mode/pending_mig")
    return {
        "index": _int(_text(gpu, "minor_number")) if _text(gpu, "minor_number") is not None else minor_fallback,
        "name": _text(gpu, "product_name"),
        "brand": _text(gpu, "product_brand"),
        "architecture": _text(gpu, "product_architecture"),
        "uuid": _text(gpu, "uuid"),
        "pci_bus_id": gpu.get("id") or _text(gpu, "pci/pci_bus_id"),
        "pci_device_id": (_text(gpu, "pci/pci_device_id") or "")[:4].lower() or None,
        "memory_total_mib": _mib(_text(gpu, "fb_memory_usage/total")),
        "memory_reserved_mib": _mib(_text(gpu, "fb_memory_usage/reserved")),
        "memory_used_mib": _mib(_text(gpu, "fb_memory_usage/used")),
        "memory_free_mib": _mib(_text(gpu, "fb_memory_usage/free")),
        "persistence_mode": _enabled(_text(gpu, "persistence_mode")),
        "mig_mode_current": _enabled(current_mig) if current_mig is not None else None,
        "mig_mode_pending": _enabled(pending_mig) if pending_mig is not None else None,
        "mig_devices": _mig_devices(gpu),
        "ecc_mode": _enabled(_text(gpu, "ecc_mode/current_ecc")),
        "ecc_uncorrectable_volatile": ecc_volatile_unc,
        "ecc_uncorrectable_aggregate": ecc_aggregate_unc,
        "retired_pages": retired,
        "remapped_rows_pending": _enabled(_text(gpu, "remapped_rows/remapped_row_pending")),
        "remapped_rows_failure": _enabled(_text(gpu, "remapped_rows/remapped_row_failure")),
        "fabric_state": _text(gpu, "fabric/state"),
        "fabric_status": _text(gpu, "fabric/status"),
        "compute_mode": _text(gpu, "compute_mode"),
        "virtualization_mode": _text(gpu, "gpu_virtualization_mode/virtualization_mode"),
        "power_limit_w": _watts(_text(gpu, "gpu_power_readings/current_power_limit") or _text(gpu, "power_readings/power_limit")),
        "compute_capability": None,
    }


def _watts(value):
    if value is None:
        return None
    m = re.match(r"^\s*([\d.]+)\s*W\s*$", value)
    return float(m.group(1)) if m else None


def parse_nvidia_smi_xml(text):
    """Parse ``nvidia-smi -q -x``; return {driver_version, cuda_version, gpus: [...]}."""
    if not text or not text.strip():
        raise LlmopsError("nvidia-smi -q -x printed nothing; run it by hand on the node to see why (is the driver loaded?)")
    err = nvml_error(text)
    if err and "<nvidia_smi_log" not in text:
        raise LlmopsError("nvidia-smi cannot reach the driver: %s; load the nvidia kernel module or install the driver" % err)
    # The DOCTYPE names an external DTD that is not shipped; ElementTree never fetches it.
    try:
        root = ET.fromstring(text.strip().encode("utf-8"))
    except ET.ParseError as exc:
        raise LlmopsError("nvidia-smi -q -x output is not valid XML (%s); expected an <nvidia_smi_log> document" % exc) from None
    if root.tag != "nvidia_smi_log":
        raise LlmopsError("nvidia-smi -q -x root element is <%s>, expected <nvidia_smi_log>" % root.tag)
    gpus = [_gpu(g, i) for i, g in enumerate(root.findall("gpu"))]
    attached = _int(_text(root, "attached_gpus"))
    return {
        "driver_version": _text(root, "driver_version"),
        "cuda_version": _text(root, "cuda_version"),
        "attached_gpus": attached if attached is not None else len(gpus),
        "gpus": gpus,
    }


def parse_query_csv(text):
    """Parse ``nvidia-smi --query-gpu=... --format=csv`` (with header) into a list of dicts keyed by field name.

    Units in the header (``memory.total [MiB]``) are dropped from keys; values keep their text.
    """
    lines = [ln for ln in (text or "").splitlines() if ln.strip()]
    if not lines:
        return []
    header = [re.sub(r"\s*\[.*\]$", "", h.strip()) for h in lines[0].split(",")]
    rows = []
    for line in lines[1:]:
        values = [v.strip() for v in line.split(",")]
        if len(values) != len(header):
            raise LlmopsError("nvidia-smi CSV row %r has %d fields, header has %d" % (line, len(values), len(header)))
        rows.append(dict(zip(header, values)))
    return rows


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def parse_topo(text):
    """Parse ``nvidia-smi topo -m``; return {gpus: [names], links: {gpu: {peer: kind}}, nvlink: bool, max_nvlinks: int}."""
    lines = [_ANSI.sub("", ln).rstrip() for ln in (text or "").splitlines()]
    header = None
    links = {}
    for line in lines:
        if not line.strip():
            if header is not None and links:
                break
            continue
        cols = line.split()
        if header is None and cols and cols[0].startswith("GPU"):
            header = [c for c in cols if re.match(r"^(GPU|NIC)\d+$", c)]
            continue
        if header is not None and cols and re.match(r"^GPU\d+$", cols[0]):
            row = {}
            for peer, kind in zip(header, cols[1:1 + len(header)]):
                if peer != cols[0] and peer.startswith("GPU"):
                    row[peer] = kind
            links[cols[0]] = row
    nv = [int(k[2:]) for row in links.values() for k in row.values() if re.match(r"^NV\d+$", k)]
    return {
        "gpus": sorted(links, key=lambda g: int(g[3:])),
        "links": links,
        "nvlink": bool(nv),
        "max_nvlinks": max(nv) if nv else 0,
    }


_LGIP_ROW = re.compile(r"^\|\s+(\d+)\s+MIG\s+(\S+)\s+(\d+)\s+(\d+)/(\d+)\s+([\d.]+)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+\|$")


def parse_mig_lgip(text):
    """Parse ``nvidia-smi mig -lgip`` into [{gpu, profile, id, instances_free, instances_total, memory_gib, sm}]."""
    profiles = []
    for line in (text or "").splitlines():
        m = _LGIP_ROW.match(line.strip())
        if m:
            profiles.append({
                "gpu": int(m.group(1)),
                "profile": m.group(2),
                "id": int(m.group(3)),
                "instances_free": int(m.group(4)),
                "instances_total": int(m.group(5)),
                "memory_gib": float(m.group(6)),
                "sm": int(m.group(8)),
            })
    return profiles
