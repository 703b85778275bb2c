"""The one GPU table (plugins/module_utils/_gpu/catalog.py) and every table derived from it.

The OLD_* literals are the hand-kept tables as they were before they were derived from the GPU
records (issue 12), copied verbatim: the derived tables must keep every entry and value.
"""

from __future__ import annotations

import re

from ansible_collections.llmops.vllm_serving.plugins.module_utils._gpu import catalog, facts, host
from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing import gpus, memory

# _sizing/gpus.py CATALOG: name -> (total_gib, smi_mib, compute_capability, measured, mig_slice)
OLD_CATALOG = {
    "H100-80GB": (79.19, 81559, "9.0", True, ""),
    "H100-PCIE": (79.19, 81559, "9.0", False, ""),
    "H100-NVL": (93.10, 95830, "9.0", False, ""),
    "H200": (139.80, 143771, "9.0", True, ""),
    "H20": (95.00, 97871, "9.0", False, ""),
    "GH200": (94.50, 97871, "9.0", False, ""),
    "B200": (178.35, 183359, "10.0", False, ""),
    "A100-80GB": (79.33, 81920, "8.0", True, ""),
    "A100-40GB": (39.39, 40960, "8.0", True, ""),
    "L40S": (44.42, 46068, "8.9", True, ""),
    "L40": (44.40, 46068, "8.9", True, ""),
    "A40": (44.35, 46068, "8.6", False, ""),
    "L4": (22.03, 23034, "8.9", True, ""),
    "A10G": (21.99, 23028, "8.6", False, ""),
    "A10": (22.18, 23028, "8.6", True, ""),
    "RTX-4090": (23.99, 24564, "8.9", True, ""),
    "RTX-3090": (23.58, 24576, "8.6", True, ""),
    "RTX-5090": (31.36, 32607, "12.0", False, ""),
    "RTX-A6000": (47.53, 49140, "8.6", False, ""),
    "RTX-6000-ADA": (47.50, 49140, "8.9", False, ""),
    "T4": (14.75, 15360, "7.5", True, ""),
    "V100-32GB": (31.74, 32768, "7.0", False, ""),
    "V100-16GB": (15.77, 16384, "7.0", False, ""),
}

# _sizing/gpus.py _GFD_PATTERNS (order matters: most specific first)
OLD_GFD_PATTERNS = (
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

# _gpu/host.py GPU_DEVICE_IDS
OLD_GPU_DEVICE_IDS = {
    "0x20b0": "A100-SXM4-40GB",
    "0x20b2": "A100-SXM4-80GB",
    "0x20b5": "A100 80GB PCIe",
    "0x20f1": "A100-PCIE-40GB",
    "0x2230": "RTX A6000",
    "0x2235": "A40",
    "0x2236": "A10",
    "0x2237": "A10G",
    "0x2321": "H100 NVL",
    "0x2330": "H100 SXM5 80GB",
    "0x2331": "H100 PCIe",
    "0x2335": "H200",
    "0x233a": "H800 NVL",
    "0x233b": "H200 NVL",
    "0x2684": "GeForce RTX 4090",
    "0x26b5": "L40",
    "0x26b9": "L40S",
    "0x27b8": "L4",
}

# _sizing/memory.py _NVLINK
OLD_NVLINK = ("H100-80GB", "H200", "H20", "GH200", "B200", "A100-80GB", "A100-40GB", "H100-NVL")

# _gpu/facts.py ARCH_COMPUTE_CAPABILITY
OLD_ARCH_COMPUTE_CAPABILITY = {
    "Volta": "7.0", "Turing": "7.5", "Ampere": "8.0", "Ada Lovelace": "8.9", "Hopper": "9.0", "Blackwell": "10.0",
}


def test_catalog_keeps_every_old_entry():
    got = {name: (g.total_gib, g.smi_mib, g.compute_capability, g.measured, g.mig_slice) for name, g in gpus.CATALOG.items()}
    assert {name: got.get(name) for name in OLD_CATALOG} == OLD_CATALOG
    assert all(name == g.name for name, g in gpus.CATALOG.items())


def test_gfd_patterns_keep_order_and_values():
    # a new record may add a pattern anywhere; the old ones keep their values and their order
    assert tuple(p for p in gpus._GFD_PATTERNS if p[1] in OLD_CATALOG) == OLD_GFD_PATTERNS


def test_gpu_device_ids_keep_every_old_entry():
    assert {k: host.GPU_DEVICE_IDS.get(k) for k in OLD_GPU_DEVICE_IDS} == OLD_GPU_DEVICE_IDS
    assert list(host.GPU_DEVICE_IDS) == sorted(host.GPU_DEVICE_IDS)


def test_nvlink_names_keep_every_old_entry():
    assert sorted(n for n in memory._NVLINK if n in OLD_CATALOG) == sorted(OLD_NVLINK)
    assert len(set(memory._NVLINK)) == len(memory._NVLINK)


def test_arch_compute_capability_keeps_every_old_entry():
    assert {k: facts.ARCH_COMPUTE_CAPABILITY.get(k) for k in OLD_ARCH_COMPUTE_CAPABILITY} == OLD_ARCH_COMPUTE_CAPABILITY


def test_derived_tables_hold_nothing_but_new_records():
    """What a derived table has beyond the old one comes from a record added since (or a new uncatalogued id)."""
    new = {gpu.name for gpu in catalog.GPUS} - set(OLD_CATALOG)
    new_ids = {i for gpu in catalog.GPUS if gpu.name in new for i, dummy in gpu.pci_ids} | set(catalog.UNCATALOGUED_DEVICE_IDS)
    assert set(host.GPU_DEVICE_IDS) - set(OLD_GPU_DEVICE_IDS) <= new_ids
    assert set(memory._NVLINK) - set(OLD_NVLINK) <= new
    assert set(facts.ARCH_COMPUTE_CAPABILITY) - set(OLD_ARCH_COMPUTE_CAPABILITY) <= {gpu.family for gpu in catalog.GPUS if gpu.name in new}


# ---- every record complete and consistent ----------------------------------------------------------------

# nvidia-smi product_architecture spellings
FAMILIES = {"Volta", "Turing", "Ampere", "Ada Lovelace", "Hopper", "Blackwell"}

# nvidia-smi product names (GFD's nvidia.com/gpu.product with spaces as dashes) of each record
SMI_NAMES = {
    "H100-NVL": ["NVIDIA H100 NVL"],
    "H100-PCIE": ["NVIDIA H100 PCIe"],
    "H100-80GB": ["NVIDIA H100 80GB HBM3"],
    "GH200": ["NVIDIA GH200 480GB"],
    "H200": ["NVIDIA H200", "NVIDIA H200 NVL"],
    "H20": ["NVIDIA H20"],
    "B200": ["NVIDIA B200"],
    "A100-80GB": ["NVIDIA A100-SXM4-80GB", "NVIDIA A100 80GB PCIe"],
    "A100-40GB": ["NVIDIA A100-SXM4-40GB", "NVIDIA A100-PCIE-40GB"],
    "L40S": ["NVIDIA L40S"],
    "L40": ["NVIDIA L40"],
    "A40": ["NVIDIA A40"],
    "L4": ["NVIDIA L4"],
    "A10G": ["NVIDIA A10G"],
    "A10": ["NVIDIA A10"],
    "RTX-4090": ["NVIDIA GeForce RTX 4090"],
    "RTX-3090": ["NVIDIA GeForce RTX 3090"],
    "RTX-5090": ["NVIDIA GeForce RTX 5090"],
    "RTX-6000-ADA": ["NVIDIA RTX 6000 Ada Generation"],
    "RTX-A6000": ["NVIDIA RTX A6000"],
    "T4": ["Tesla T4"],
    "V100-32GB": ["Tesla V100-SXM2-32GB"],
    "V100-16GB": ["Tesla V100-SXM2-16GB"],
}


def _first_pattern_match(label):
    """The GFD pattern step of catalog_name alone (no catalog-name shortcut)."""
    return next((name for pattern, name in gpus._GFD_PATTERNS if re.search(pattern, label, re.IGNORECASE)), None)


def test_every_record_is_complete():
    assert len(catalog.CATALOG) == len(catalog.GPUS) and gpus.CATALOG is catalog.CATALOG
    for gpu in catalog.GPUS:
        assert gpu.name and gpu.name == gpu.name.upper(), gpu
        assert isinstance(gpu.total_gib, float) and gpu.total_gib > 0, gpu
        assert isinstance(gpu.smi_mib, int) and gpu.smi_mib > 0, gpu
        # torch sees the board minus the driver's reservation (measured values are rounded to 0.01 GiB)
        assert -0.01 <= gpu.smi_mib / 1024.0 - gpu.total_gib <= 1.5, gpu
        assert re.match(r"^\d+\.\d+$", gpu.compute_capability), gpu
        assert isinstance(gpu.measured, bool) and isinstance(gpu.nvlink, bool), gpu
        assert gpu.family in FAMILIES, gpu
        assert gpu.gfd_pattern and re.compile(gpu.gfd_pattern), gpu
        assert gpu.mig_slice == "", gpu
        assert isinstance(gpu.pci_ids, tuple), gpu
        for device_id, product in gpu.pci_ids:
            assert re.match(r"^0x[0-9a-f]{4}$", device_id) and product, gpu


def test_gfd_pattern_maps_the_record_its_name_and_its_products():
    assert set(SMI_NAMES) == set(catalog.CATALOG)
    for gpu in catalog.GPUS:
        assert _first_pattern_match(gpu.name) == gpu.name
        labels = [facts.product_label(n) for n in SMI_NAMES[gpu.name]]
        # the pci.ids product names of its device ids, bare and as nvidia-smi prefixes them
        labels += [facts.product_label(p) for dummy, p in gpu.pci_ids] + [facts.product_label("NVIDIA " + p) for dummy, p in gpu.pci_ids]
        for label in labels:
            assert _first_pattern_match(label) == gpu.name, label
            assert gpus.catalog_name(label) == gpu.name, label
            assert gpus.catalog_name(label + "-MIG-1g.10gb") == gpu.name, label


def test_pci_ids_are_unique_and_not_nvswitches():
    ids = [device_id for gpu in catalog.GPUS for device_id, dummy in gpu.pci_ids] + list(catalog.UNCATALOGUED_DEVICE_IDS)
    assert len(ids) == len(set(ids)) == len(host.GPU_DEVICE_IDS)
    assert not set(ids) & set(host.NVSWITCH_DEVICE_IDS)
    for device_id, product in catalog.UNCATALOGUED_DEVICE_IDS.items():
        # uncatalogued means no record claims it: its label must not resolve
        assert _first_pattern_match(facts.product_label(product)) is None, device_id
        assert _first_pattern_match(facts.product_label("NVIDIA " + product)) is None, device_id


def test_family_and_compute_capability_agree():
    def key(cc):
        return tuple(int(p) for p in cc.split("."))

    assert set(facts.ARCH_COMPUTE_CAPABILITY) == {gpu.family for gpu in catalog.GPUS}
    for gpu in catalog.GPUS:
        assert key(facts.ARCH_COMPUTE_CAPABILITY[gpu.family]) <= key(gpu.compute_capability), gpu
        # sizing picks the Hopper (FA3) constants by compute capability 9.x
        assert (gpu.family == "Hopper") == gpu.compute_capability.startswith("9."), gpu
    assert set(memory._NVLINK) == {gpu.name for gpu in catalog.GPUS if gpu.nvlink}


def test_scan_names_a_gpu_from_its_record():
    assert host.GPU_DEVICE_IDS["0x2335"] == "H200" and host.GPU_DEVICE_IDS["0x233a"] == "H800 NVL"
    assert gpus.catalog_name(facts.product_label(host.GPU_DEVICE_IDS["0x2330"])) == "H100-80GB"
