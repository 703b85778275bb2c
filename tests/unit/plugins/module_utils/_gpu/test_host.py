"""sysfs / procfs readers: work without lspci and lsmod."""

from __future__ import annotations

from gpu_helpers import make_root, read

from ansible_collections.llmops.vllm_serving.plugins.module_utils._gpu import host


def test_sysfs_listing_real():
    assert host.parse_sysfs_listing(read("pci_nvidia_sysfs.txt")) == {
        "gpus": [{"address": "0000:00:06.0", "device_id": "0x2335", "class": "0x030200", "model": "H200"}], "nvswitches": []}


def test_scan_pci_gpus_and_nvswitches(tmp_path):
    root = make_root(str(tmp_path), gpus=[("0000:%02x:00.0" % (0x18 + i), "0x2330") for i in range(8)],
                     nvswitches=[("0000:%02x:00.0" % (0x05 + i), "0x22a3") for i in range(4)])
    pci = host.scan_pci(root)
    assert len(pci["gpus"]) == 8 and {g["model"] for g in pci["gpus"]} == {"H100 SXM5 80GB"}
    assert len(pci["nvswitches"]) == 4 and pci["nvswitches"][0]["model"].startswith("NVSwitch (Hopper")
    # the Intel host bridge in the tree is not reported
    assert all(d["address"] != "0000:00:01.0" for d in pci["gpus"] + pci["nvswitches"])


def test_scan_pci_missing_sysfs(tmp_path):
    assert host.scan_pci(str(tmp_path)) == {"gpus": [], "nvswitches": []}


def test_proc_modules_real_and_nouveau():
    mods = host.parse_proc_modules(read("proc_modules_nvidia.txt"))
    assert sorted(mods) == ["nvidia", "nvidia_uvm"] and mods["nvidia"]["taint"] == "O" and mods["nvidia"]["size"] == 14299136
    mods = host.parse_proc_modules("nouveau 2355200 1 - Live 0xffffffffc0a00000\nttm 86016 1 nouveau, Live 0xffffffffc0900000\n")
    assert "nouveau" in mods and mods["nouveau"]["taint"] == ""


def test_driver_version_file_real():
    d = host.parse_driver_version_file(read("proc_driver_nvidia_version.txt"))
    assert d["version"] == "580.159.04" and d["flavour"] == "open"
    prop = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.183.01  Sun May 12 19:39:15 UTC 2024\nGCC version:  gcc 12\n"
    assert host.parse_driver_version_file(prop)["flavour"] == "proprietary"
    assert host.parse_driver_version_file("") is None and host.parse_driver_version_file("garbage") is None


def test_kernel_headers(tmp_path):
    make_root(str(tmp_path), kernel_release="6.1.0-28-amd64")
    assert host.kernel_headers_present("6.1.0-28-amd64", str(tmp_path)) is True
    assert host.kernel_headers_present("6.1.0-29-amd64", str(tmp_path)) is False
