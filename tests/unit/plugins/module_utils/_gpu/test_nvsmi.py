"""nvidia-smi parsers against the real H200 capture and boards derived from it."""

from __future__ import annotations

import pytest
from gpu_helpers import NVML_NO_DRIVER, NVSMI_NO_DRIVER, h200_xml, hgx_topo, hgx_xml, read

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._gpu import nvsmi


def test_h200_xml_golden():
    d = nvsmi.parse_nvidia_smi_xml(h200_xml())
    assert (d["driver_version"], d["cuda_version"], d["attached_gpus"]) == ("580.159.04", "13.0", 1)
    g = d["gpus"][0]
    # values as nvidia-smi printed them on the host (tests/fixtures/h200/nvidia-smi.txt: "0MiB / 143771MiB", "On", "Disabled")
    assert g["name"] == "NVIDIA H200" and g["architecture"] == "Hopper"
    assert g["uuid"] == "GPU-a1f914b4-debe-c8d7-d663-c68fcfdf0c10"
    assert g["pci_bus_id"] == "00000000:00:06.0" and g["pci_device_id"] == "2335"
    assert (g["memory_total_mib"], g["memory_reserved_mib"], g["memory_used_mib"], g["memory_free_mib"]) == (143771, 616, 0, 143156)
    assert g["persistence_mode"] is True and g["ecc_mode"] is True
    assert g["mig_mode_current"] is False and g["mig_mode_pending"] is False and g["mig_devices"] == []
    assert (g["ecc_uncorrectable_volatile"], g["ecc_uncorrectable_aggregate"], g["retired_pages"]) == (0, 0, 0)
    assert g["remapped_rows_pending"] is False and g["remapped_rows_failure"] is False
    assert g["power_limit_w"] == 700.0 and g["fabric_state"] is None


def test_hgx_mig_board():
    d = nvsmi.parse_nvidia_smi_xml(hgx_xml(8, mig=True))
    assert d["attached_gpus"] == 8 and len(d["gpus"]) == 8
    assert [g["index"] for g in d["gpus"]] == list(range(8))
    assert {g["name"] for g in d["gpus"]} == {"NVIDIA H100 80GB HBM3"}
    assert {g["memory_total_mib"] for g in d["gpus"]} == {81559}
    assert all(g["mig_mode_current"] and g["mig_mode_pending"] for g in d["gpus"])
    assert d["gpus"][3]["mig_devices"] == [
        {"index": 0, "gpu_instance_id": 5, "compute_instance_id": 0, "memory_total_mib": 40192, "sm_count": 60},
        {"index": 1, "gpu_instance_id": 6, "compute_instance_id": 0, "memory_total_mib": 40192, "sm_count": 60},
    ]


def test_ecc_uncorrectable_counts_are_summed():
    xml = h200_xml().replace("<dram_uncorrectable>0</dram_uncorrectable>", "<dram_uncorrectable>3</dram_uncorrectable>", 1)
    g = nvsmi.parse_nvidia_smi_xml(xml)["gpus"][0]
    assert g["ecc_uncorrectable_volatile"] == 3 and g["ecc_uncorrectable_aggregate"] == 0


@pytest.mark.parametrize("text, needle", [
    ("", "printed nothing"),
    (NVML_NO_DRIVER, "Failed to initialize NVML: Unknown Error"),
    ("<nvidia_smi_log><gpu>", "not valid XML"),
    ("<other/>", "expected <nvidia_smi_log>"),
])
def test_bad_xml_names_the_problem(text, needle):
    with pytest.raises(LlmopsError, match=needle):
        nvsmi.parse_nvidia_smi_xml(text)


@pytest.mark.parametrize("text, expected", [
    (NVML_NO_DRIVER, "Failed to initialize NVML: Unknown Error"),
    (NVSMI_NO_DRIVER, NVSMI_NO_DRIVER.strip()),
    ("Failed to initialize NVML: Driver/library version mismatch\n", "Failed to initialize NVML: Driver/library version mismatch"),
    (h200_xml(), None),
])
def test_nvml_error(text, expected):
    assert nvsmi.nvml_error(text) == expected


def test_query_csv_real():
    rows = nvsmi.parse_query_csv(read("nvidia-smi-query.csv"))
    assert rows == [dict(rows[0])] and rows[0]["compute_cap"] == "9.0" and rows[0]["memory.total"] == "143771 MiB"
    with pytest.raises(LlmopsError, match="has 2 fields, header has 3"):
        nvsmi.parse_query_csv("a, b, c\n1, 2\n")


def test_topo_real_single_gpu_has_no_nvlink():
    assert nvsmi.parse_topo(read("nvidia-smi-topo.txt")) == {"gpus": ["GPU0"], "links": {"GPU0": {}}, "nvlink": False, "max_nvlinks": 0}


def test_topo_hgx_nvlink():
    t = nvsmi.parse_topo(hgx_topo(8))
    assert t["gpus"] == ["GPU%d" % i for i in range(8)]
    assert t["nvlink"] is True and t["max_nvlinks"] == 18
    assert t["links"]["GPU2"]["GPU7"] == "NV18" and "GPU2" not in t["links"]["GPU2"]


def test_mig_lgip_real():
    p = nvsmi.parse_mig_lgip(read("nvidia-smi-mig-lgip.txt"))
    # seven profiles, as the real table lists them (1g.18gb x7 ... 7g.141gb x1)
    assert [x["profile"] for x in p] == ["1g.18gb", "1g.18gb+me", "1g.35gb", "2g.35gb", "3g.71gb", "4g.71gb", "7g.141gb"]
    assert p[0] == {"gpu": 0, "profile": "1g.18gb", "id": 19, "instances_free": 7, "instances_total": 7, "memory_gib": 16.0, "sm": 16}
    assert p[-1]["memory_gib"] == 140.0 and p[-1]["sm"] == 132
