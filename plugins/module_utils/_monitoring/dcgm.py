# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NVIDIA DCGM exporter: the metrics it exports by default, the one table the dashboards and rules read.

The GPU Operator v26.7.0 chart runs ``nvcr.io/nvidia/k8s/dcgm-exporter:4.6.0-4.8.3-distroless``
(values.yaml ``dcgmExporter.version``). The fields below are those enabled in dcgm-exporter 4.8.3's
``etc/default-counters.csv`` (DCGM 4.6.0). Left out there, so never used here: ``DCGM_FI_DEV_ECC_DBE_VOL_TOTAL``
and the other ECC rows, the clock-throttle violation counters, retired pages, NVLink error counters.
Labels on every GPU series: ``gpu``, ``UUID``, ``pci_bus_id``, ``device``, ``modelName``, ``Hostname`` (unless
``--no-hostname``), ``DCGM_FI_DRIVER_VERSION``; with Kubernetes pod mapping on (the GPU Operator's default)
also ``pod``, ``namespace``, ``container`` of the pod holding the GPU.
"""

from __future__ import annotations

EXPORTER_VERSION = "4.8.3"
DCGM_VERSION = "4.6.0"

# exported name -> (type, unit, help)
METRICS = {
    "DCGM_FI_DEV_SM_CLOCK": ("gauge", "MHz", "SM clock frequency"),
    "DCGM_FI_DEV_MEM_CLOCK": ("gauge", "MHz", "Memory clock frequency"),
    "DCGM_FI_DEV_MEMORY_TEMP": ("gauge", "C", "Memory temperature"),
    "DCGM_FI_DEV_GPU_TEMP": ("gauge", "C", "GPU temperature"),
    "DCGM_FI_DEV_POWER_USAGE": ("gauge", "W", "Power draw"),
    "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": ("counter", "mJ", "Total energy consumption since boot"),
    "DCGM_FI_DEV_PCIE_REPLAY_COUNTER": ("counter", "", "Total number of PCIe retries"),
    "DCGM_FI_DEV_GPU_UTIL": ("gauge", "%", "GPU utilization"),
    "DCGM_FI_DEV_MEM_COPY_UTIL": ("gauge", "%", "Memory utilization"),
    "DCGM_FI_DEV_ENC_UTIL": ("gauge", "%", "Encoder utilization"),
    "DCGM_FI_DEV_DEC_UTIL": ("gauge", "%", "Decoder utilization"),
    "DCGM_FI_DEV_XID_ERRORS": ("gauge", "", "Value of the last XID error encountered"),
    "DCGM_FI_DEV_FB_FREE": ("gauge", "MiB", "Framebuffer memory free"),
    "DCGM_FI_DEV_FB_USED": ("gauge", "MiB", "Framebuffer memory used"),
    "DCGM_FI_DEV_FB_RESERVED": ("gauge", "MiB", "Framebuffer memory reserved"),
    "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL": ("gauge", "", "Total NVLink bandwidth counter for all lanes"),
    "DCGM_FI_DEV_VGPU_LICENSE_STATUS": ("gauge", "", "vGPU license status"),
    "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS": ("counter", "", "Rows remapped for uncorrectable errors"),
    "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS": ("counter", "", "Rows remapped for correctable errors"),
    "DCGM_FI_DEV_ROW_REMAP_FAILURE": ("gauge", "", "Whether remapping of rows has failed"),
    "DCGM_FI_PROF_GR_ENGINE_ACTIVE": ("gauge", "ratio", "Ratio of time the graphics engine is active"),
    "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE": ("gauge", "ratio", "Ratio of cycles the tensor (HMMA) pipe is active"),
    "DCGM_FI_PROF_DRAM_ACTIVE": ("gauge", "ratio", "Ratio of cycles the device memory interface is active"),
    "DCGM_FI_PROF_PCIE_TX_BYTES": ("gauge", "B/s", "Bytes of active PCIe tx data including header and payload"),
    "DCGM_FI_PROF_PCIE_RX_BYTES": ("gauge", "B/s", "Bytes of active PCIe rx data including header and payload"),
}

LABELS = ("gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname", "DCGM_FI_DRIVER_VERSION",
          "pod", "namespace", "container")
