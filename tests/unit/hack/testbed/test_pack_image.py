"""hack/testbed/pack_image.py writes the docker-archive that the real node imports: files, symlinks, the image's
user, and file capabilities as upstream's `setcap cap_net_bind_service=+ep` sets them (CoreDNS binds :53 as
65532 with them; the bed's `up` proves that part on the real node)."""

import io
import json
import struct
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
PACK = ROOT / "hack" / "testbed" / "pack_image.py"


def pack(tmp_path, *args):
    out = tmp_path / "image.tar"
    proc = subprocess.run([sys.executable, str(PACK), str(out), "example.test/app:v1", '["/app"]', *args],
                          capture_output=True, text=True, check=False)
    return out, proc


def layer_members(out):
    with tarfile.open(out) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))
        config = json.load(outer.extractfile(manifest[0]["Config"]))
        blob = outer.extractfile(manifest[0]["Layers"][0]).read()
    with tarfile.open(fileobj=io.BytesIO(blob)) as layer:
        return config, {m.name: m for m in layer.getmembers()}


def test_file_capability_is_the_vfs_cap_xattr_setcap_writes(tmp_path):
    binary = tmp_path / "app"
    binary.write_bytes(b"\x7fELF")
    out, proc = pack(tmp_path, "--user=65532:65532", "--cap=app=cap_net_bind_service", f"app={binary}", "bin/sh@=/app")
    assert proc.returncode == 0, proc.stderr
    config, members = layer_members(out)
    assert config["config"]["User"] == "65532:65532"
    raw = members["app"].pax_headers["SCHILY.xattr.security.capability"].encode("utf-8", "surrogateescape")
    magic, permitted, inheritable, permitted_hi, inheritable_hi = struct.unpack("<IIIII", raw)
    assert magic == 0x02000001  # VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE
    assert permitted == 1 << 10 and permitted_hi == 0  # CAP_NET_BIND_SERVICE only
    assert inheritable == inheritable_hi == 0
    assert "SCHILY.xattr.security.capability" not in members["bin/sh"].pax_headers
    assert members["bin/sh"].linkname == "/app"


@pytest.mark.parametrize("args, message", [
    (["--cap=app=cap_sys_admin"], "unknown capability 'cap_sys_admin'"),
    (["--cap=other=cap_net_bind_service"], "--cap for ['other'], which no DEST=SRC puts in the image"),
])
def test_bad_capability_requests_are_refused(tmp_path, args, message):
    binary = tmp_path / "app"
    binary.write_bytes(b"\x7fELF")
    out, proc = pack(tmp_path, *args, f"app={binary}")
    assert proc.returncode != 0
    assert message in proc.stderr
    assert not out.exists()
