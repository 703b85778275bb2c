"""Run the real gpu_facts / gpu_preflight / nvidia_containerd_config modules (as Ansible does: a process with an args
file) against fixture trees, a replayed nvidia-smi and real files."""

from __future__ import annotations

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(HERE))))
sys.path.insert(0, os.path.join(ROOT, "tests", "unit", "plugins", "module_utils", "_gpu"))

from gpu_helpers import NVSMI_NO_DRIVER, NVSMI_NO_DRIVER_RC, fake_smi, make_root  # noqa: E402

from ansible_collections.llmops.vllm_serving.plugins.module_utils._gpu import containerd  # noqa: E402


from module_runner import run_module  # noqa: E402


def test_gpu_facts_h200_replay(tmp_path):
    root = make_root(str(tmp_path / "root"))
    smi = fake_smi(str(tmp_path / "nvidia-smi"))
    res = run_module("gpu_facts", tmp_path, {"root": root, "nvidia_smi": smi})
    assert res["changed"] is False and "failed" not in res
    f = res["ansible_facts"]["llmops_gpu"]
    assert f["summary"]["count"] == 1 and f["summary"]["product_label"] == "NVIDIA-H200" and f["summary"]["compute_capability"] == "9.0"
    assert f["gpus"][0]["memory_total_mib"] == 143771 and f["driver"]["version"] == "580.159.04"
    assert f["nvidia_smi"]["rc"] == 0 and len(f["mig_profiles"]) == 7


def test_gpu_facts_driver_not_loaded(tmp_path):
    root = make_root(str(tmp_path / "root"), modules="", driver_version=False)
    smi = fake_smi(str(tmp_path / "nvidia-smi"), rc=NVSMI_NO_DRIVER_RC, out=NVSMI_NO_DRIVER)
    f = run_module("gpu_facts", tmp_path, {"root": root, "nvidia_smi": smi})["ansible_facts"]["llmops_gpu"]
    assert f["nvidia_smi"]["rc"] == 9 and f["nvidia_smi"]["error"] == NVSMI_NO_DRIVER.strip()
    assert f["summary"]["count"] == 0 and f["summary"]["pci_count"] == 1 and f["driver"]["loaded"] is False


def test_gpu_facts_bad_root(tmp_path):
    res = run_module("gpu_facts", tmp_path, {"root": str(tmp_path / "nope")})
    assert res["failed"] and "is not a directory" in res["msg"]


def test_gpu_preflight_uses_given_facts(tmp_path):
    root = make_root(str(tmp_path / "root"))
    facts = run_module("gpu_facts", tmp_path, {"root": root, "nvidia_smi": fake_smi(str(tmp_path / "nvidia-smi"))})
    res = run_module("gpu_preflight", tmp_path, {"facts": facts["ansible_facts"]["llmops_gpu"], "expected_gpu_count": 8,
                                                 "container_runtime": "none", "model_store_path": str(tmp_path / "models")})
    assert res["changed"] is False and res["failed_checks"] == ["gpu_count"]
    assert res["disk"]["checked"] == str(tmp_path) and "[FAIL] gpu_count" in res["report"]
    bad = run_module("gpu_preflight", tmp_path, {"facts": {"x": 1}})
    assert bad["failed"] and "facts has no 'summary' key" in bad["msg"]
    bad = run_module("gpu_preflight", tmp_path, {"facts": facts["ansible_facts"]["llmops_gpu"], "mig_mode": "on"})
    assert bad["failed"] and "mig_mode" in bad["msg"]


def test_nvidia_containerd_config_four_steps(tmp_path):
    main = tmp_path / "config.toml"
    original = 'version = 2\n\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\n  SystemdCgroup = true\n'
    main.write_text(original)
    drop = tmp_path / "conf.d" / "99-nvidia.toml"
    args = {"config_path": str(main), "drop_in_path": str(drop), "containerd_version": "1.7.24"}
    check1 = run_module("nvidia_containerd_config", tmp_path, args, check_mode=True, diff=True)
    assert check1["changed"] and check1["main_config_changed"] and not drop.exists() and main.read_text() == original
    assert [d["after_header"] for d in check1["diff"]] == [str(main), str(drop)]
    run1 = run_module("nvidia_containerd_config", tmp_path, args)
    assert run1["changed"] and run1["actions"] == check1["actions"]
    assert main.read_text() == original.replace("version = 2\n", 'version = 2\nimports = ["%s/*.toml"]\n' % drop.parent)
    cri = containerd.loads(drop.read_text())["plugins"][containerd.CRI_V2]
    assert cri["containerd"]["runtimes"]["nvidia"]["options"]["SystemdCgroup"] is True and cri["enable_cdi"] is True
    check2 = run_module("nvidia_containerd_config", tmp_path, args, check_mode=True)
    run2 = run_module("nvidia_containerd_config", tmp_path, args)
    assert not check2["changed"] and not run2["changed"] and run2["actions"] == []
    gone = run_module("nvidia_containerd_config", tmp_path, dict(args, state="absent"))
    assert gone["changed"] and not drop.exists()


@pytest.mark.parametrize("args, needle", [
    ({"containerd_version": "9.0.0"}, "containerd 9.0.0 is not supported"),
    ({"containerd_version": "1.6.20", "manage_imports": False}, "set manage_imports=true"),
])
def test_nvidia_containerd_config_errors(tmp_path, args, needle):
    paths = {"config_path": str(tmp_path / "c.toml"), "drop_in_path": str(tmp_path / "d" / "n.toml")}
    res = run_module("nvidia_containerd_config", tmp_path, dict(args, **paths))
    assert res["failed"] and needle in res["msg"] and not (tmp_path / "d").exists()
