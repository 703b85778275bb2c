# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The GPU table: one record per GPU, read by sizing (``_sizing/gpus.py``, ``_sizing/memory.py``) and by
the GPU node facts (``_gpu/host.py``, ``_gpu/facts.py``). Every other GPU table is derived from ``GPUS``.

A record holds:

- ``name``: the catalog name (upper case; ``gpu_model`` accepts it as is).
- ``total_gib``: what vLLM sees, ``torch.cuda.mem_get_info()[1]`` (the total capacity PyTorch prints in
  OOM messages), a little below nvidia-smi's ``memory.total`` because the driver reserves part of the board.
- ``smi_mib``: nvidia-smi's ``memory.total`` in MiB, the value GFD publishes as ``nvidia.com/gpu.memory``.
- ``compute_capability``: ``nvidia-smi --query-gpu=compute_cap``.
- ``measured``: ``total_gib`` was read from real logs; otherwise it is nvidia-smi minus the typical
  reservation of the same GPU family. ``gpu_facts`` from real nodes (or ``gpu_memory_gib``) override.
- ``family``: the architecture as nvidia-smi spells ``product_architecture`` (``Hopper``, ``Ada Lovelace``).
- ``gfd_pattern``: the regular expression (case-insensitive, searched) that maps a GFD
  ``nvidia.com/gpu.product`` label (the nvidia-smi name with spaces as dashes) to this record.
  ``GPUS`` is in match order: a label takes the first record whose pattern it matches, so the more
  specific patterns come first (H100-NVL before H100-80GB, GH200 before H200, L40S before L40).
- ``pci_ids``: ``((device id, product name), ...)``, PCI device ids of vendor 0x10de from the PCI ID
  repository (pci.ids), so facts name the GPU when the driver is not loaded.
- ``nvlink``: the GPU's boards use NVLink between GPUs (sizing: the NCCL + custom all-reduce buffers of TP >= 2).

``mig_slice`` is empty in the table; ``_sizing.gpus.lookup`` sets it on the record of a MIG slice.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Gpu:
    name: str
    total_gib: float
    smi_mib: int
    compute_capability: str
    measured: bool = False
    mig_slice: str = ""
    family: str = ""
    gfd_pattern: str = ""
    pci_ids: tuple = ()
    nvlink: bool = False

    @property
    def large_defaults(self) -> bool:
        """vLLM EngineArgs.get_batch_defaults: >= 70 GiB and not an A100 gets the large batch defaults."""
        return self.total_gib >= 70 and "A100" not in self.name


_H, _B, _A, _L, _T, _V = "Hopper", "Blackwell", "Ampere", "Ada Lovelace", "Turing", "Volta"

GPUS = (
    Gpu("H100-NVL", 93.10, 95830, "9.0", family=_H, gfd_pattern=r"H100.*NVL", pci_ids=(("0x2321", "H100 NVL"),), nvlink=True),
    Gpu("H100-PCIE", 79.19, 81559, "9.0", family=_H, gfd_pattern=r"H100.*PCI", pci_ids=(("0x2331", "H100 PCIe"),)),
    Gpu("H100-80GB", 79.19, 81559, "9.0", True, family=_H, gfd_pattern=r"H100", pci_ids=(("0x2330", "H100 SXM5 80GB"),), nvlink=True),
    Gpu("GH200", 94.50, 97871, "9.0", family=_H, gfd_pattern=r"GH200", nvlink=True),
    # cuMemGetInfo on a real H200: 150109880320 B
    Gpu("H200", 139.80, 143771, "9.0", True, family=_H, gfd_pattern=r"H200", pci_ids=(("0x2335", "H200"), ("0x233b", "H200 NVL")),
        nvlink=True),
    Gpu("H20", 95.00, 97871, "9.0", family=_H, gfd_pattern=r"H20\b|H20$", nvlink=True),
    Gpu("B200", 178.35, 183359, "10.0", family=_B, gfd_pattern=r"B200", nvlink=True),
    # logs: 79.32 / 79.35 GiB
    Gpu("A100-80GB", 79.33, 81920, "8.0", True, family=_A, gfd_pattern=r"A100.*80GB",
        pci_ids=(("0x20b2", "A100-SXM4-80GB"), ("0x20b5", "A100 80GB PCIe")), nvlink=True),
    Gpu("A100-40GB", 39.39, 40960, "8.0", True, family=_A, gfd_pattern=r"A100",
        pci_ids=(("0x20b0", "A100-SXM4-40GB"), ("0x20f1", "A100-PCIE-40GB")), nvlink=True),
    Gpu("L40S", 44.42, 46068, "8.9", True, family=_L, gfd_pattern=r"L40S", pci_ids=(("0x26b9", "L40S"),)),
    Gpu("L40", 44.40, 46068, "8.9", True, family=_L, gfd_pattern=r"L40", pci_ids=(("0x26b5", "L40"),)),
    Gpu("A40", 44.35, 46068, "8.6", family=_A, gfd_pattern=r"A40", pci_ids=(("0x2235", "A40"),)),
    Gpu("L4", 22.03, 23034, "8.9", True, family=_L, gfd_pattern=r"\bL4\b|-L4$|-L4-", pci_ids=(("0x27b8", "L4"),)),
    Gpu("A10G", 21.99, 23028, "8.6", family=_A, gfd_pattern=r"A10G", pci_ids=(("0x2237", "A10G"),)),
    Gpu("A10", 22.18, 23028, "8.6", True, family=_A, gfd_pattern=r"\bA10\b|-A10$", pci_ids=(("0x2236", "A10"),)),
    # 0.27.1 log: "Free memory on device (22.45/23.99 GiB)"
    Gpu("RTX-4090", 23.99, 24564, "8.9", True, family=_L, gfd_pattern=r"RTX-?4090", pci_ids=(("0x2684", "GeForce RTX 4090"),)),
    Gpu("RTX-3090", 23.58, 24576, "8.6", True, family=_A, gfd_pattern=r"RTX-?3090"),
    Gpu("RTX-5090", 31.36, 32607, "12.0", family=_B, gfd_pattern=r"RTX-?5090"),
    Gpu("RTX-6000-ADA", 47.50, 49140, "8.9", family=_L, gfd_pattern=r"RTX-?6000-?Ada"),
    Gpu("RTX-A6000", 47.53, 49140, "8.6", family=_A, gfd_pattern=r"RTX-?A6000", pci_ids=(("0x2230", "RTX A6000"),)),
    # logs: 14.74 / 14.75 GiB
    Gpu("T4", 14.75, 15360, "7.5", True, family=_T, gfd_pattern=r"T4"),
    Gpu("V100-32GB", 31.74, 32768, "7.0", family=_V, gfd_pattern=r"V100.*32GB"),
    Gpu("V100-16GB", 15.77, 16384, "7.0", family=_V, gfd_pattern=r"V100"),
)

# PCI ids of GPUs that have no record (no catalog name and no GFD pattern maps them): facts name them, sizing
# does not know them.
UNCATALOGUED_DEVICE_IDS = {
    "0x233a": "H800 NVL",
}

# ---- derived tables -------------------------------------------------------------------------------------

CATALOG = {gpu.name: gpu for gpu in GPUS}

# (pattern, catalog name) in match order
GFD_PATTERNS = tuple((gpu.gfd_pattern, gpu.name) for gpu in GPUS)

# PCI device id -> product name, sorted by id
PCI_DEVICE_IDS = dict(sorted([pair for gpu in GPUS for pair in gpu.pci_ids] + list(UNCATALOGUED_DEVICE_IDS.items())))

# catalog names of the GPUs with NVLink
NVLINK = tuple(gpu.name for gpu in GPUS if gpu.nvlink)


def _cc_key(cc):
    return tuple(int(part) for part in cc.split("."))


def _arch_compute_capability():
    lowest = {}
    for gpu in GPUS:
        if gpu.family not in lowest or _cc_key(gpu.compute_capability) < _cc_key(lowest[gpu.family]):
            lowest[gpu.family] = gpu.compute_capability
    return dict(sorted(lowest.items(), key=lambda item: _cc_key(item[1])))


# architecture -> the lowest compute capability of its records (the architecture's base chip: Ampere GA100
# 8.0, Blackwell B200 10.0); for GPUs whose nvidia-smi cannot report compute_cap
ARCH_COMPUTE_CAPABILITY = _arch_compute_capability()
