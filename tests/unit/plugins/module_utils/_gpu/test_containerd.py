"""containerd drop-in planning: 1.x replace-per-plugin vs 2.x merge, imports edits, idempotence."""

from __future__ import annotations

import os

import pytest

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._gpu import containerd as c

MAIN = "/etc/containerd/config.toml"
DROP = "/etc/containerd/conf.d/99-nvidia.toml"

# What Kubespray's containerd role renders (abridged, same keys and layout): CRI settings in config.toml.
KUBESPRAY = '''version = 2
root = "/var/lib/containerd"
state = "/run/containerd"
oom_score = 0

[grpc]
  max_recv_message_size = 16777216

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:3.9"
    max_container_log_line_size = -1
    [plugins."io.containerd.grpc.v1.cri".containerd]
      default_runtime_name = "runc"
      snapshotter = "overlayfs"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes]
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
          runtime_type = "io.containerd.runc.v2"
          [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
            SystemdCgroup = true
'''


def plan(version, main, drop=None, files=None, **kw):
    files = files or {}
    return c.plan(version, MAIN, main, DROP, drop, files.__getitem__, other_files=sorted(files), **kw)


def test_v1_drop_in_carries_the_whole_cri_section():
    r = plan("1.6.20", KUBESPRAY)
    assert r["config_version"] == 2 and r["plugin"] == c.CRI_V2
    # config.toml: only the imports line was added, right after version
    assert r["main_text"].splitlines()[:2] == ["version = 2", 'imports = ["/etc/containerd/conf.d/*.toml"]']
    assert r["main_text"].replace('imports = ["/etc/containerd/conf.d/*.toml"]\n', "") == KUBESPRAY
    drop = c.loads(r["drop_in_text"])
    cri = drop["plugins"][c.CRI_V2]
    assert drop["version"] == 2
    assert cri["sandbox_image"] == "registry.k8s.io/pause:3.9" and cri["max_container_log_line_size"] == -1
    assert cri["containerd"]["default_runtime_name"] == "runc" and cri["containerd"]["snapshotter"] == "overlayfs"
    assert cri["containerd"]["runtimes"]["runc"]["options"] == {"SystemdCgroup": True}
    assert cri["containerd"]["runtimes"]["nvidia"] == {
        "runtime_type": "io.containerd.runc.v2",
        "options": {"SystemdCgroup": True, "BinaryName": "/usr/bin/nvidia-container-runtime"}}
    assert "enable_cdi" not in cri  # containerd 1.6 has no CDI
    assert any("containerd#5837" in a for a in r["actions"]) and any("no CDI support" in a for a in r["actions"])


def test_v1_7_enables_cdi_and_default_runtime():
    r = plan("1.7.24", KUBESPRAY, set_as_default=True)
    cri = c.loads(r["drop_in_text"])["plugins"][c.CRI_V2]
    assert cri["enable_cdi"] is True and cri["cdi_spec_dirs"] == ["/etc/cdi", "/var/run/cdi"]
    assert cri["containerd"]["default_runtime_name"] == "nvidia"


# Debian's own /etc/containerd/config.toml (bookworm 1.6.20 and trixie 1.7.24 ship the same file)
DEBIAN = '''version = 2

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "/etc/cni/net.d"
  [plugins."io.containerd.internal.v1.opt"]
    path = "/var/lib/containerd/opt"
'''


def test_debian_config_keeps_cni_and_declares_runc():
    """Without runc in the drop-in, containerd 1.7.24 dropped the runc runtime (molecule/gpu_node_containerd, trixie)."""
    r = plan("1.7.24", DEBIAN)
    cri = c.loads(r["drop_in_text"])["plugins"][c.CRI_V2]
    assert cri["cni"] == {"bin_dir": "/usr/lib/cni", "conf_dir": "/etc/cni/net.d"}
    assert cri["containerd"]["runtimes"]["runc"] == {"runtime_type": "io.containerd.runc.v2"}
    assert cri["containerd"]["runtimes"]["nvidia"]["options"] == {"BinaryName": "/usr/bin/nvidia-container-runtime"}
    assert any("declared containerd's default runc runtime" in a for a in r["actions"])
    # the opt plugin is not the CRI plugin: it stays in config.toml only
    assert list(c.loads(r["drop_in_text"])["plugins"]) == [c.CRI_V2]


def test_v2_drop_in_holds_only_additions():
    main = 'version = 3\n\n[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]\n  SystemdCgroup = true\n'
    r = plan("2.1.4", main)
    drop = c.loads(r["drop_in_text"])
    assert drop["version"] == 3 and list(drop["plugins"]) == [c.CRI_V3]
    sec = drop["plugins"][c.CRI_V3]
    assert list(sec["containerd"]["runtimes"]) == ["nvidia"]  # runc comes from config.toml through the key-by-key merge
    assert sec["containerd"]["runtimes"]["nvidia"]["options"] == {"SystemdCgroup": True, "BinaryName": "/usr/bin/nvidia-container-runtime"}
    assert sec["enable_cdi"] is True and "default_runtime_name" not in sec["containerd"]


def test_v2_without_runc_stays_minimal():
    """containerd 2.1.4 keeps its built-in runc when a drop-in adds nvidia (checked with its config dump)."""
    sec = c.loads(plan("2.1.4", None)["drop_in_text"])["plugins"][c.CRI_V3]
    assert list(sec["containerd"]["runtimes"]) == ["nvidia"]


def test_missing_main_config_is_created_minimal():
    r = plan("2.0.0", None)
    assert r["main_text"] == 'version = 3\nimports = ["/etc/containerd/conf.d/*.toml"]\n'
    r = plan("1.6.20", None)
    assert r["main_text"] == 'version = 2\nimports = ["/etc/containerd/conf.d/*.toml"]\n'


@pytest.mark.parametrize("main, expected_line", [
    ('version = 2\nimports = ["/etc/containerd/other/*.toml"]\n', 'imports = ["/etc/containerd/other/*.toml", "/etc/containerd/conf.d/*.toml"]'),
    ('version = 2\nimports = []\n', 'imports = ["/etc/containerd/conf.d/*.toml"]'),
    ('# comment only\n', 'imports = ["/etc/containerd/conf.d/*.toml"]'),
])
def test_imports_line_edits(main, expected_line):
    r = plan("1.6.20", main)
    assert expected_line in r["main_text"].splitlines()


def test_imports_already_cover_drop_in_leaves_main_alone():
    main = 'version = 2\nimports = ["/etc/containerd/conf.d/*.toml"]\n'
    assert plan("1.6.20", main)["main_text"] == main


def test_plan_is_idempotent():
    first = plan("1.6.20", KUBESPRAY, set_as_default=True)
    second = plan("1.6.20", first["main_text"], first["drop_in_text"], set_as_default=True)
    assert (second["main_text"], second["drop_in_text"]) == (first["main_text"], first["drop_in_text"])


def test_v1_earlier_drop_in_section_wins_over_main():
    """An earlier drop-in (e.g. a registry mirror file) replaced config.toml's CRI section in 1.x: carry that one."""
    files = {"/etc/containerd/conf.d/50-registry.toml":
             'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"\n'}
    r = plan("1.6.20", 'version = 2\nimports = ["/etc/containerd/conf.d/*.toml"]\n' + KUBESPRAY.split("\n", 1)[1], files=files)
    cri = c.loads(r["drop_in_text"])["plugins"][c.CRI_V2]
    assert cri["registry"] == {"config_path": "/etc/containerd/certs.d"} and "sandbox_image" not in cri
    assert any("50-registry.toml" in a for a in r["actions"])


def test_v1_later_drop_in_is_warned_about():
    files = {"/etc/containerd/conf.d/zz-late.toml": 'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "x"\n'}
    r = plan("1.6.20", KUBESPRAY, files=files)
    assert any(a.startswith("WARNING: /etc/containerd/conf.d/zz-late.toml sorts after") for a in r["actions"])


@pytest.mark.parametrize("kw, needle", [
    ({"version": "1.6.20", "main": '[plugins.cri]\n  sandbox_image = "x"\n'}, "has config version 1; containerd 1.6.20 needs version = 2"),
    ({"version": "3.0.0", "main": None}, "containerd 3.0.0 is not supported"),
    ({"version": "latest", "main": None}, "containerd_version='latest' is not a version"),
    ({"version": "1.6.20", "main": "version = 2\nimports = [\n  '/x/*.toml',\n]\n"}, "spans several lines"),
    ({"version": "1.6.20", "main": "version = = 2\n"}, "is not valid TOML"),
    ({"version": "1.6.20", "main": "version = 2\n", "manage_imports": False}, "does not import /etc/containerd/conf.d/\\*.toml"),
    ({"version": "1.6.20", "main": None, "runtime_name": "nv idia"}, "runtime_name='nv idia' must be"),
])
def test_errors_name_the_value(kw, needle):
    version, main = kw.pop("version"), kw.pop("main")
    with pytest.raises(LlmopsError, match=needle):
        plan(version, main, **kw)


def test_absent_removes_drop_in_only():
    r = plan("1.6.20", KUBESPRAY, "old", state="absent")
    assert r["drop_in_text"] is None and r["main_text"] == KUBESPRAY and r["actions"] == ["removed %s" % DROP]


def test_dumps_round_trips_odd_keys():
    cri = {"registry": {"mirrors": {"docker.io": {"endpoint": ["https://m"]}}}, "x": 1.5, "s": 'a"b\\c', "empty": {}}
    data = {"version": 2, "plugins": {"io.containerd.grpc.v1.cri": cri}}
    assert c.loads(c.dumps(data)) == data


def test_import_files_order(tmp_path):
    d = tmp_path / "conf.d"
    d.mkdir()
    for n in ("b.toml", "a.toml", "c.txt"):
        (d / n).write_text("")
    got = c.import_files([str(d / "*.toml"), "rel/*.toml"], str(tmp_path / "config.toml"))
    assert got == [str(d / "a.toml"), str(d / "b.toml")]
    assert os.path.basename(c.import_files([str(d / "*.toml")], "/x", exclude=str(d / "a.toml"))[0]) == "b.toml"
