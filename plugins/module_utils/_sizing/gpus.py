# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GPU catalog and GPU Feature Discovery (GFD) label mapping, for sizing.

The records live in ``_gpu/catalog.py`` (one table for sizing and the GPU node facts: memory as torch
reports it and nvidia-smi's MiB, compute capability, family, GFD pattern, PCI ids, NVLink); this module
re-exports ``Gpu`` and ``CATALOG`` and resolves ``gpu_model`` / ``gpu_memory_gib`` against them.

``total_gib`` is what vLLM sees: ``torch.cuda.mem_get_info()[1]`` (the total capacity PyTorch
prints in OOM messages), a little below nvidia-smi's ``memory.total`` (``smi_mib``, the value GFD
publishes as ``nvidia.com/gpu.memory``) because the driver reserves part of the board.
Values marked ``measured`` were read from real logs; the others are nvidia-smi minus the typical
reservation of the same GPU family. ``gpu_facts`` from real nodes (or ``gpu_memory_gib``) override.
"""

from __future__ import annotations

import re

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._gpu.catalog import CATALOG, GFD_PATTERNS, Gpu

# GFD product label (nvidia-smi name, spaces -> '-') patterns, most specific first (the records' order).
_GFD_PATTERNS = GFD_PATTERNS
_MIG_RE = re.compile(r"-MIG-(\d+)g\.(\d+)gb$", re.IGNORECASE)


def catalog_name(label: str) -> str:
    """Map a catalog name or a GFD ``nvidia.com/gpu.product`` label to a catalog name."""
    if not isinstance(label, str) or not label.strip():
        raise LlmopsError("gpu_model=%r must be a non-empty string; valid: %s" % (label, sorted(CATALOG)))
    text = label.strip()
    upper = text.upper()
    if upper in CATALOG:
        return upper
    base = _MIG_RE.sub("", text)
    for pattern, name in _GFD_PATTERNS:
        if re.search(pattern, base, re.IGNORECASE):
            return name
    raise LlmopsError(
        "gpu_model=%r is neither a catalog name nor a known GPU Feature Discovery label; valid "
        "names: %s (or give gpu_memory_gib)" % (label, sorted(CATALOG))
    )


def lookup(label: str | None = None, memory_gib: float | None = None) -> Gpu:
    """Resolve gpu_model / gpu_memory_gib to a Gpu. A MIG label gives the slice's memory."""
    if memory_gib is not None:
        if isinstance(memory_gib, bool) or not isinstance(memory_gib, (int, float)) or memory_gib <= 0:
            raise LlmopsError("gpu_memory_gib=%r must be a positive number of GiB, e.g. 79.19 for an H100-80GB" % (memory_gib,))
        base = CATALOG[catalog_name(label)] if label else None
        return Gpu(
            base.name if base else "custom",
            float(memory_gib),
            int(memory_gib * 1024),
            base.compute_capability if base else "8.0",
        )
    if label is None:
        raise LlmopsError("one of gpu_model or gpu_memory_gib is required; gpu_model valid: %s" % sorted(CATALOG))
    name = catalog_name(label)
    gpu = CATALOG[name]
    mig = _MIG_RE.search(label.strip())
    if mig:
        slice_gb = int(mig.group(2))
        return Gpu(gpu.name, slice_gb * 0.93, slice_gb * 1024, gpu.compute_capability, False, mig.group(0)[5:])
    return gpu


DRIVER_RESERVED_GIB = 0.46  # nvidia-smi total minus what CUDA reports on an H100 80GB HBM3 (79.65 - 79.19)


def total_gib_from_smi(memory_mib, label: str | None = None) -> float:
    """Turn nvidia-smi's / GFD's ``memory.total`` in MiB (``nvidia.com/gpu.memory``) into the total
    vLLM sees. A known GPU of that size keeps its catalog ratio (measured where marked); otherwise
    the driver reservation of an H100 is subtracted."""
    if isinstance(memory_mib, bool) or not isinstance(memory_mib, (int, float)) or memory_mib <= 0:
        raise LlmopsError("memory_mib=%r must be a positive number of MiB, e.g. 81559 from nvidia.com/gpu.memory"
                          % (memory_mib,))
    if label:
        gpu = CATALOG[catalog_name(label)]
        if abs(gpu.smi_mib - memory_mib) <= 64:
            return round(gpu.total_gib * memory_mib / float(gpu.smi_mib), 2)
    return round(memory_mib / 1024.0 - DRIVER_RESERVED_GIB, 2)
