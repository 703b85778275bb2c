# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GPU catalog and GPU Feature Discovery (GFD) label mapping.

``total_gib`` is what vLLM sees: ``torch.cuda.mem_get_info()[1]`` (the total capacity PyTorch
prints in OOM messages), a little below nvidia-smi's ``memory.total`` (``smi_mib``, the value GFD
publishes as ``nvidia.com/gpu.memory``) because the driver reserves part of the board.
Values marked ``measured`` were read from real logs; the others are nvidia-smi minus the typical
reservation of the same GPU family. ``gpu_facts`` from real nodes (or ``gpu_memory_gib``) override.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError


@dataclass(frozen=True)
class Gpu:
    name: str
    total_gib: float
    smi_mib: int
    compute_capability: str
    measured: bool = False
    mig_slice: str = ""

    @property
    def large_defaults(self) -> bool:
        """vLLM EngineArgs.get_batch_defaults: >= 70 GiB and not an A100 gets the large batch defaults."""
        return self.total_gib >= 70 and "A100" not in self.name


CATALOG = {
    "H100-80GB": Gpu("H100-80GB", 79.19, 81559, "9.0", True),
    "H100-PCIE": Gpu("H100-PCIE", 79.19, 81559, "9.0"),
    "H100-NVL": Gpu("H100-NVL", 93.10, 95830, "9.0"),
    "H200": Gpu("H200", 139.80, 143771, "9.0", True),  # cuMemGetInfo on a real H200: 150109880320 B
    "H20": Gpu("H20", 95.00, 97871, "9.0"),
    "GH200": Gpu("GH200", 94.50, 97871, "9.0"),
    "B200": Gpu("B200", 178.35, 183359, "10.0"),
    "A100-80GB": Gpu("A100-80GB", 79.33, 81920, "8.0", True),  # logs: 79.32 / 79.35 GiB
    "A100-40GB": Gpu("A100-40GB", 39.39, 40960, "8.0", True),
    "L40S": Gpu("L40S", 44.42, 46068, "8.9", True),
    "L40": Gpu("L40", 44.40, 46068, "8.9", True),
    "A40": Gpu("A40", 44.35, 46068, "8.6"),
    "L4": Gpu("L4", 22.03, 23034, "8.9", True),
    "A10G": Gpu("A10G", 21.99, 23028, "8.6"),
    "A10": Gpu("A10", 22.18, 23028, "8.6", True),
    "RTX-4090": Gpu("RTX-4090", 23.99, 24564, "8.9", True),  # 0.27.1 log: "Free memory on device (22.45/23.99 GiB)"
    "RTX-3090": Gpu("RTX-3090", 23.58, 24576, "8.6", True),
    "RTX-5090": Gpu("RTX-5090", 31.36, 32607, "12.0"),
    "RTX-A6000": Gpu("RTX-A6000", 47.53, 49140, "8.6"),
    "RTX-6000-ADA": Gpu("RTX-6000-ADA", 47.50, 49140, "8.9"),
    "T4": Gpu("T4", 14.75, 15360, "7.5", True),  # logs: 14.74 / 14.75 GiB
    "V100-32GB": Gpu("V100-32GB", 31.74, 32768, "7.0"),
    "V100-16GB": Gpu("V100-16GB", 15.77, 16384, "7.0"),
}

# GFD product label (nvidia-smi name, spaces -> '-') patterns, most specific first.
_GFD_PATTERNS = (
    (r"H100.*NVL", "H100-NVL"),
    (r"H100.*PCI", "H100-PCIE"),
    (r"H100", "H100-80GB"),
    (r"GH200", "GH200"),
    (r"H200", "H200"),
    (r"H20\b|H20$", "H20"),
    (r"B200", "B200"),
    (r"A100.*80GB", "A100-80GB"),
    (r"A100", "A100-40GB"),
    (r"L40S", "L40S"),
    (r"L40", "L40"),
    (r"A40", "A40"),
    (r"\bL4\b|-L4$|-L4-", "L4"),
    (r"A10G", "A10G"),
    (r"\bA10\b|-A10$", "A10"),
    (r"RTX-?4090", "RTX-4090"),
    (r"RTX-?3090", "RTX-3090"),
    (r"RTX-?5090", "RTX-5090"),
    (r"RTX-?6000-?Ada", "RTX-6000-ADA"),
    (r"RTX-?A6000", "RTX-A6000"),
    (r"T4", "T4"),
    (r"V100.*32GB", "V100-32GB"),
    (r"V100", "V100-16GB"),
)
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
