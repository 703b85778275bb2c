# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CUDA toolkit -> minimum Linux x86_64 driver, from NVIDIA's CUDA Toolkit Release Notes:

- Table 3 "CUDA Toolkit and Corresponding Driver Versions" (the driver each toolkit release was
  built and tested with: full compatibility),
  https://docs.nvidia.com/cuda/cuda-toolkit-release-notes/index.html#id6
- Table 2 "CUDA Toolkit and Minimum Required Driver Version for CUDA Minor Version Compatibility"
  (an older driver of the same major family runs the toolkit, without PTX JIT of newer code and
  without features that need the newer driver), and the data-centre support matrix
  https://docs.nvidia.com/datacenter/tesla/drivers/supported-drivers-and-cuda-toolkit-versions.html
  (R535 and R570 serve CUDA 12.x, R580 serves CUDA 13.x through minor version compatibility).

A vLLM container image carries its own CUDA runtime; the host only supplies the kernel driver and
libcuda. So the question a preflight asks is: is the host driver new enough for the image's CUDA.
"""

from __future__ import annotations

import re

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError

# Table 3 (Linux x86_64), keyed by toolkit version "major.minor[.update]".
TOOLKIT_DRIVER = {
    "11.8": "520.61.05",
    "12.0": "525.60.13", "12.0.1": "525.85.12",
    "12.1": "530.30.02", "12.1.1": "530.30.02",
    "12.2": "535.54.03", "12.2.1": "535.86.09", "12.2.2": "535.104.05",
    "12.3": "545.23.06", "12.3.1": "545.23.08", "12.3.2": "545.23.08",
    "12.4": "550.54.14", "12.4.1": "550.54.15",
    "12.5": "555.42.02", "12.5.1": "555.42.06",
    "12.6": "560.28.03", "12.6.1": "560.35.03", "12.6.2": "560.35.03", "12.6.3": "560.35.05",
    "12.8": "570.26", "12.8.1": "570.124.06",
    "12.9": "575.51.03", "12.9.1": "575.57.08",
    "13.0": "580.65.06", "13.0.1": "580.82.07", "13.0.2": "580.95.05",
}

# Table 2: minimum driver for CUDA minor version compatibility, per CUDA major version.
MINOR_COMPAT_DRIVER = {
    "11": "450.80.02",
    "12": "525.60.13",
    "13": "580.65.06",
}


def version_tuple(text, what="version"):
    """'580.159.04' -> (580, 159, 4). Raises LlmopsError naming the value when it is not dotted digits."""
    if text is None or not re.match(r"^\d+(\.\d+)*$", str(text).strip()):
        raise LlmopsError("%s=%r is not a dotted version; expected e.g. '12.9' or '580.65.06'" % (what, text))
    return tuple(int(p) for p in str(text).strip().split("."))


def toolkit_key(cuda_version):
    """Normalise '12.9', '12.9.1', '12.9.1-cudnn' style inputs to a TOOLKIT_DRIVER key."""
    m = re.match(r"^(\d+)\.(\d+)(?:\.(\d+))?", str(cuda_version or "").strip())
    if not m:
        raise LlmopsError(
            "cuda_version=%r is not a CUDA version; use the CUDA version of the vLLM image, e.g. '12.9' or '12.8.1'" % (cuda_version,))
    major, minor, update = m.group(1), m.group(2), m.group(3)
    return "%s.%s" % (major, minor) if not update or update == "0" else "%s.%s.%s" % (major, minor, update)


def driver_requirement(cuda_version):
    """Return {cuda, full_driver, minor_compat_driver} for a toolkit version, or raise with the known versions."""
    key = toolkit_key(cuda_version)
    major = key.split(".")[0]
    full = TOOLKIT_DRIVER.get(key)
    if full is None:
        base = ".".join(key.split(".")[:2])
        full = TOOLKIT_DRIVER.get(base)
    if full is None:
        known = sorted({".".join(k.split(".")[:2]) for k in TOOLKIT_DRIVER}, key=version_tuple)
        raise LlmopsError("cuda_version=%r is not in the CUDA->driver table; known: %s" % (cuda_version, ", ".join(known)))
    return {"cuda": key, "full_driver": full, "minor_compat_driver": MINOR_COMPAT_DRIVER.get(major)}


def check_driver(driver_version, cuda_version):
    """Classify a host driver for an image's CUDA version.

    Returns (status, reason) with status 'pass' (>= Table 3 driver), 'warn' (only CUDA minor version
    compatibility applies) or 'fail' (too old for this CUDA major version).
    """
    req = driver_requirement(cuda_version)
    have = version_tuple(driver_version, "driver_version")
    if have >= version_tuple(req["full_driver"]):
        return "pass", "driver %s >= %s required by CUDA %s" % (driver_version, req["full_driver"], req["cuda"])
    compat = req["minor_compat_driver"]
    if compat and have >= version_tuple(compat):
        return "warn", ("driver %s is older than %s (CUDA %s) but >= %s, so it runs through CUDA minor version compatibility "
                        "(no PTX JIT for newer code)" % (driver_version, req["full_driver"], req["cuda"], compat))
    return "fail", "driver %s is older than %s, the minimum for CUDA %s%s" % (
        driver_version, compat or req["full_driver"], req["cuda"], " (minor version compatibility)" if compat else "")
