"""facts.collect over real trees + recorded nvidia-smi, and the preflight verdicts for the cases the issue names."""

from __future__ import annotations

import pytest
from gpu_helpers import NVML_NO_DRIVER, NVSMI_NO_DRIVER, NVSMI_NO_DRIVER_RC, h200_xml, hgx_topo, hgx_xml, make_root, read

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._gpu import facts, preflight

CSV_H200 = "index, uuid, compute_cap\n0, GPU-a1f914b4-debe-c8d7-d663-c68fcfdf0c10, 9.0\n"


class Node:
    """Records the commands collect() runs and answers them from recordings; binaries exist only if listed."""

    def __init__(self, smi=None, binaries=(), services=()):
        self.smi = smi or {}
        self.binaries = set(binaries)
        self.services = set(services)
        self.calls = []

    def which(self, name):
        return "/usr/bin/" + name if name in self.binaries else None

    def run(self, argv):
        self.calls.append(argv)
        name = argv[0].rsplit("/", 1)[-1]
        if name == "nvidia-smi":
            key = "q" if argv[1] == "-q" else argv[1]
            return self.smi.get(key, (2, "", "unsupported"))
        if name == "systemctl":
            return (0, "active\n", "") if argv[2] in self.services else (3, "inactive\n", "")
        if name == "containerd":
            return 0, "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3\n", ""
        return 0, "%s version 1.0.0\n" % name, ""


def h200_node(**kw):
    smi = {"q": (0, h200_xml(), ""), "topo": (0, read("nvidia-smi-topo.txt"), ""),
           "--query-gpu=index,uuid,compute_cap": (0, CSV_H200, ""), "mig": (0, read("nvidia-smi-mig-lgip.txt"), "")}
    return Node(smi=smi, binaries=kw.pop("binaries", ("nvidia-smi", "containerd", "systemctl")), **kw)


def collect(node, root, **kw):
    return facts.collect(node.run, node.which, root=root, kernel_release=kw.pop("kernel_release", "6.8.0-49-generic"), **kw)


def verdicts(result):
    return {c["check"]: c["status"] for c in result["checks"]}


def test_healthy_h200(tmp_path):
    f = collect(h200_node(), make_root(str(tmp_path)))
    s = f["summary"]
    assert (s["count"], s["pci_count"], s["model"], s["product_label"], s["memory_mib"], s["compute_capability"]) == (
        1, 1, "NVIDIA H200", "NVIDIA-H200", 143771, "9.0")
    assert s["homogeneous"] and not s["mig_enabled"] and s["persistence_mode"] and not s["nvswitch"] and not s["nvlink"]
    assert f["driver"] == {"loaded": True, "version": "580.159.04", "kernel_module_version": "580.159.04",
                           "kernel_module_flavour": "open", "cuda_version": "13.0"}
    assert f["runtimes"]["containerd"] == {"present": True, "path": "/usr/bin/containerd", "version": "1.6.20"}
    assert len(f["mig_profiles"]) == 7
    r = preflight.evaluate(f, {"expected_gpu_count": 1, "expected_gpu_model": "NVIDIA-H200", "cuda_version": "12.9"})
    assert r["counts"]["fail"] == 0 and not r["failed"]
    assert verdicts(r)["driver_cuda"] == "pass" and verdicts(r)["gpu_model"] == "pass"


def test_no_gpu_node(tmp_path):
    node = Node(binaries=("containerd",))
    f = collect(node, make_root(str(tmp_path), gpus=(), modules="", driver_version=False))
    assert f["summary"]["count"] == 0 and f["summary"]["pci_count"] == 0 and not f["nvidia_smi"]["present"]
    assert not any(c[0].endswith("nvidia-smi") for c in node.calls)
    r = preflight.evaluate(f, {})
    assert verdicts(r)["nvidia_devices"] == "fail" and r["failed"]
    r = preflight.evaluate(f, {"gpu_required": False})
    assert verdicts(r)["nvidia_devices"] == "skip" and not r["failed"]


def test_driver_not_loaded(tmp_path):
    """nvidia-smi with device nodes but an unusable driver: NVML's own line, exit 255 (the other documented form)."""
    node = Node(smi={"q": (255, NVML_NO_DRIVER, "")}, binaries=("nvidia-smi", "containerd"))
    f = collect(node, make_root(str(tmp_path), modules="", driver_version=False))
    assert f["nvidia_smi"] == {"present": True, "path": "/usr/bin/nvidia-smi", "rc": 255, "error": "Failed to initialize NVML: Unknown Error"}
    assert f["driver"]["loaded"] is False and f["driver"]["version"] is None and f["gpus"] == []
    r = preflight.evaluate(f, {"expected_gpu_count": 1, "expected_gpu_model": "NVIDIA-H200"})
    v = verdicts(r)
    assert v["nvidia_devices"] == "pass" and v["driver_loaded"] == "fail" and v["driver_cuda"] == "fail"
    assert v["gpu_count"] == "pass" and v["gpu_model"] == "pass"   # from the PCI device id 0x2335, without a driver
    msg = [c for c in r["checks"] if c["check"] == "driver_loaded"][0]
    assert "not in /proc/modules" in msg["reason"] and "Failed to initialize NVML" in msg["reason"] and "gpu_node_driver_install" in msg["fix"]
    # the GPU Operator will bring the driver: then it is fine, but the kernel headers must be there
    r = preflight.evaluate(f, {"driver_source": "operator"})
    assert verdicts(r)["driver_loaded"] == "pass" and verdicts(r)["kernel_headers"] == "fail"


def test_hgx_nvswitch_without_fabric_manager(tmp_path):
    root = make_root(str(tmp_path), gpus=[("0000:%02x:00.0" % (0x18 + i), "0x2330") for i in range(8)],
                     nvswitches=[("0000:%02x:00.0" % (0x05 + i), "0x22a3") for i in range(4)])
    smi = {"q": (0, hgx_xml(8), ""), "topo": (0, hgx_topo(8), ""), "--query-gpu=index,uuid,compute_cap": (1, "", "")}
    f = collect(Node(smi=smi, binaries=("nvidia-smi", "containerd", "systemctl")), root)
    s = f["summary"]
    assert s["count"] == 8 and s["nvswitch"] and s["nvlink"] and s["compute_capability"] == "9.0"  # from Hopper, CSV failed
    r = preflight.evaluate(f, {"expected_gpu_count": 8, "expected_gpu_model": "NVIDIA-H100-80GB-HBM3"})
    assert verdicts(r)["fabric_manager"] == "fail" and verdicts(r)["gpu_model"] == "pass"
    f = collect(Node(smi=smi, binaries=("nvidia-smi", "containerd", "systemctl", "nv-fabricmanager"),
                     services=("nvidia-fabricmanager",)), root)
    assert verdicts(preflight.evaluate(f, {"expected_gpu_count": 8}))["fabric_manager"] == "pass"


def test_mig_states(tmp_path):
    root = make_root(str(tmp_path), gpus=[("0000:%02x:00.0" % (0x18 + i), "0x2330") for i in range(8)])
    smi = {"q": (0, hgx_xml(8, mig=True), "")}
    f = collect(Node(smi=smi, binaries=("nvidia-smi", "containerd")), root)
    assert f["summary"]["mig_enabled"] and f["summary"]["mig_devices"] == 16
    assert verdicts(preflight.evaluate(f, {"mig_mode": "enabled"}))["mig"] == "pass"
    assert verdicts(preflight.evaluate(f, {"mig_mode": "disabled"}))["mig"] == "fail"
    assert verdicts(preflight.evaluate(f, {"mig_mode": "any"}))["mig"] == "pass"
    f = collect(Node(smi={"q": (0, hgx_xml(8, mig=False, mig_pending=True), "")}, binaries=("nvidia-smi", "containerd")), root)
    assert f["summary"]["mig_pending_change"]
    assert verdicts(preflight.evaluate(f, {"mig_mode": "disabled"}))["mig"] == "warn"


def test_heterogeneous_and_wrong_count(tmp_path):
    root = make_root(str(tmp_path), gpus=[("0000:%02x:00.0" % (0x18 + i), "0x2330") for i in range(4)])
    f = collect(Node(smi={"q": (0, hgx_xml(4, odd_one="NVIDIA H100 PCIe"), "")}, binaries=("nvidia-smi", "containerd")), root)
    r = preflight.evaluate(f, {"expected_gpu_count": 8})
    v = verdicts(r)
    assert v["homogeneous"] == "fail" and v["gpu_count"] == "fail"
    assert "found 4 GPU(s), the inventory expects 8" in [c for c in r["checks"] if c["check"] == "gpu_count"][0]["reason"]


def test_nouveau_and_old_driver(tmp_path):
    f = collect(h200_node(), make_root(str(tmp_path), modules=read("proc_modules_nvidia.txt") + "nouveau 2355200 0 - Live 0x0\n"))
    f["driver"]["version"] = "535.261.03"
    v = verdicts(preflight.evaluate(f, {"cuda_version": "12.9"}))
    assert v["nouveau"] == "fail" and v["driver_cuda"] == "warn"
    f["driver"]["version"] = "515.105.01"
    assert verdicts(preflight.evaluate(f, {"cuda_version": "12.9"}))["driver_cuda"] == "fail"


def test_disk_and_runtime(tmp_path):
    f = collect(h200_node(binaries=("nvidia-smi",)), make_root(str(tmp_path)))
    disk = facts.disk_free(str(tmp_path / "does" / "not" / "exist"))
    assert disk["checked"] == str(tmp_path) and disk["free_bytes"] > 0
    r = preflight.evaluate(f, {"model_store_path": disk["path"], "model_store_min_free_gib": 10 ** 9}, disk)
    v = verdicts(r)
    assert v["model_store_disk"] == "fail" and v["container_runtime"] == "fail"
    assert verdicts(preflight.evaluate(f, {"container_runtime": "none"}))["container_runtime"] == "skip"


def test_health_failures(tmp_path):
    xml = h200_xml().replace("<remapped_row_failure>No</remapped_row_failure>", "<remapped_row_failure>Yes</remapped_row_failure>")
    node = h200_node()
    node.smi["q"] = (0, xml, "")
    f = collect(node, make_root(str(tmp_path)))
    assert verdicts(preflight.evaluate(f, {}))["gpu_health"] == "fail"


@pytest.mark.parametrize("expect, needle", [
    ({"mig_mode": "on"}, "mig_mode='on' is not valid; use one of disabled, enabled, any"),
    ({"driver_source": "nvidia"}, "driver_source='nvidia' is not valid"),
    ({"expected_gpu_count": -1}, "expected_gpu_count=-1 must be >= 0"),
    ({"cuda_version": "latest"}, "cuda_version='latest' is not a CUDA version"),
    ({"gpus": 8}, "unknown preflight expectation"),
])
def test_bad_expectations(expect, needle):
    with pytest.raises(LlmopsError, match=needle):
        preflight.normalise_expectations(expect)


def test_report_lists_every_check_with_fix(tmp_path):
    f = collect(Node(smi={"q": (255, NVML_NO_DRIVER, "")}, binaries=("nvidia-smi",)), make_root(str(tmp_path), modules=""))
    r = preflight.evaluate(f, {})
    text = preflight.render_report("node1", r)
    assert text.startswith("GPU node preflight: node1  (pass ")
    assert text.count("\n  [") == len(r["checks"]) and text.count("fix: ") == r["counts"]["fail"] + r["counts"]["warn"]


def test_userland_without_driver_on_a_gpu_less_machine(tmp_path):
    """What molecule/gpu_node_preflight's 'nodriver' container is: Debian's nvidia-smi, no module, no GPU on the bus."""
    node = Node(smi={"q": (NVSMI_NO_DRIVER_RC, NVSMI_NO_DRIVER, "")}, binaries=("nvidia-smi", "containerd"))
    f = collect(node, make_root(str(tmp_path), gpus=(), modules="", driver_version=False))
    assert f["nvidia_smi"]["rc"] == 9 and f["nvidia_smi"]["error"] == NVSMI_NO_DRIVER.strip()
    v = verdicts(preflight.evaluate(f, {}))
    assert v["nvidia_devices"] == "fail" and v["driver_loaded"] == "fail" and v["driver_cuda"] == "skip"
    assert verdicts(preflight.evaluate(f, {"gpu_required": False}))["driver_loaded"] == "skip"
