"""Faults on real filesystems: SIGKILL mid-copy, a full disk (a real tiny tmpfs), permission errors."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

from pathlib import Path

import pytest
from store_helpers import make_model, tree_sha256

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._store.fsops import PART_MARK
from ansible_collections.llmops.vllm_serving.plugins.module_utils._store.sources import HttpSource, LocalSource
from ansible_collections.llmops.vllm_serving.plugins.module_utils._store.store import ModelStore

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), *[".."] * 5))
COLLECTIONS = os.path.join(REPO, ".build", "collections")

CHILD = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, {collections!r})
    from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
    from ansible_collections.llmops.vllm_serving.plugins.module_utils._store.sources import HttpSource, LocalSource
    from ansible_collections.llmops.vllm_serving.plugins.module_utils._store.store import ModelStore
    args = json.loads(sys.argv[1])
    if args.get("url"):
        src = HttpSource(args["url"], args["files"])
    else:
        src = LocalSource(args["path"])
    try:
        res = ModelStore(args["root"], "m1").stage(src)
    except LlmopsError as err:
        print("LLMOPS_ERROR: " + str(err))
        sys.exit(3)
    print(json.dumps(res))
    """
)


def run_child(tmp_path, args, python=sys.executable, **kw):
    script = tmp_path / "child_stage.py"
    script.write_text(CHILD.format(collections=COLLECTIONS))
    os.chmod(script, 0o644)
    return subprocess.Popen([python, str(script), json.dumps(args)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def part_files(top):
    return [os.path.join(d, f) for d, _s, fs in os.walk(top) for f in fs if PART_MARK in f]


def mirror_files(directory):
    return sorted(os.path.relpath(os.path.join(d, f), directory) for d, _s, fs in os.walk(directory) for f in fs)


def test_sigkill_mid_copy_keeps_current_and_snapshots_then_rerun_completes(tmp_path, store_root, http_mirror):
    src = make_model(str(tmp_path / "mirror"), tensor_bytes=512 * 1024)  # 2 shards of ~1 MiB
    fast = http_mirror(src)
    store = ModelStore(store_root, "m1")
    v1 = store.stage(HttpSource(fast, mirror_files(src)))
    v1_sums = tree_sha256(v1["path"])
    # v2 changes config.json (small, fetched first) and a shard (slow: 64 KiB every 50 ms)
    with open(os.path.join(src, "config.json"), "w") as fh:
        fh.write('{"architectures": ["LlamaForCausalLM"], "hidden_size": 4096}')
    make_model(str(tmp_path / "v2"), tensor_bytes=512 * 1024 + 64)
    shutil.copyfile(str(tmp_path / "v2" / "model-00002-of-00002.safetensors"), os.path.join(src, "model-00002-of-00002.safetensors"))
    want = tree_sha256(src)
    slow = http_mirror(src, slow=0.05)
    child = run_child(tmp_path, {"root": store_root, "url": slow, "files": mirror_files(src)})
    staging = os.path.join(store_root, "m1", ".staging")
    deadline = time.time() + 60
    killed_at = None
    while time.time() < deadline and child.poll() is None:
        parts = [p for p in (part_files(staging) if os.path.isdir(staging) else []) if "safetensors" in p]
        if parts and os.path.getsize(parts[0]) > 0:
            killed_at = (os.path.basename(parts[0]), os.path.getsize(parts[0]))
            os.kill(child.pid, signal.SIGKILL)
            break
        time.sleep(0.01)
    child.wait(timeout=30)
    assert killed_at is not None, "the child finished before it could be killed: " + child.stdout.read()
    assert child.returncode == -signal.SIGKILL
    assert "model-00002-of-00002.safetensors" in killed_at[0]
    # current and every snapshot intact, by sha256
    assert store.current() == v1["release"]
    assert store.releases() == [v1["release"]]
    assert tree_sha256(v1["path"]) == v1_sums
    assert tree_sha256(os.path.join(store_root, "m1", "current")) == v1_sums
    assert store.read_marker()["release"]
    # a check-mode run reports the interrupted stage would be resumed
    check = store.stage(HttpSource(fast, mirror_files(src)), check_mode=True)
    assert check["changed"] is True and check["resumed"] is True
    # the re-run resumes: config.json was journaled, only the shard is fetched again
    res = store.stage(HttpSource(fast, mirror_files(src)))
    assert res["resumed"] is True and res["files_fetched"] == 1
    got = tree_sha256(res["path"])
    got.pop(".llmops-release.json")
    assert got == want
    assert tree_sha256(v1["path"]) == v1_sums
    assert part_files(os.path.join(store_root, "m1")) == []
    assert store.read_marker() is None and not os.path.exists(staging)


def test_sigkill_during_snapshot_of_many_files(tmp_path, store_root):
    extra = {f"extra/f{i:04d}.txt": "x" * 10 for i in range(3000)}
    src = make_model(str(tmp_path / "src"), extra=extra)
    store = ModelStore(store_root, "m1")
    v1 = store.stage(LocalSource(src))
    v1_sums = tree_sha256(v1["path"])
    with open(os.path.join(src, "config.json"), "w") as fh:
        fh.write('{"architectures": ["LlamaForCausalLM"], "hidden_size": 96}')
    child = run_child(tmp_path, {"root": store_root, "path": src})
    staging = os.path.join(store_root, "m1", ".staging")
    deadline = time.time() + 60
    while time.time() < deadline and child.poll() is None:
        if os.path.isdir(os.path.join(staging, "extra")):
            os.kill(child.pid, signal.SIGKILL)
            break
        time.sleep(0.002)
    child.wait(timeout=30)
    if child.returncode != -signal.SIGKILL:
        pytest.skip("the snapshot finished before the kill landed (machine too fast); covered by the copy test")
    assert store.current() == v1["release"] and tree_sha256(v1["path"]) == v1_sums
    res = store.stage(LocalSource(src))
    assert res["resumed"] is True and res["changed_files"] == ["config.json"]
    got = tree_sha256(res["path"])
    got.pop(".llmops-release.json")
    assert got == tree_sha256(src)


@pytest.fixture
def tiny_fs(tmp_path):
    """A real 1 MiB tmpfs (root only); the test is skipped, not faked, where mounting is not allowed."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tiny tmpfs for a real ENOSPC needs root")
    rc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True, check=False)
    if rc.returncode != 0:
        pytest.skip("cannot mount tmpfs here: " + rc.stderr.decode())
    yield str(mnt)
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_disk_full_is_refused_before_any_change(tmp_path, tiny_fs):
    src = make_model(str(tmp_path / "big"), tensor_bytes=1024 * 1024)  # 2 MiB per shard > 1 MiB fs
    with pytest.raises(LlmopsError) as err:
        ModelStore(tiny_fs, "m1").stage(LocalSource(src))
    msg = str(err.value)
    assert "not enough space for release" in msg and "bytes free on the filesystem of " + tiny_fs in msg
    assert "nothing was changed" in msg
    assert os.listdir(os.path.join(tiny_fs, "m1")) == []


def test_disk_full_mid_write_is_reported_and_resumable(tmp_path, tiny_fs, http_mirror):
    src = make_model(str(tmp_path / "mirror"))
    store = ModelStore(tiny_fs, "m1")
    v1 = store.stage(LocalSource(src))
    v1_sums = tree_sha256(v1["path"])
    # a mirror that sends no Content-Length: the size is unknown until the bytes arrive
    with open(os.path.join(src, "extra.bin"), "wb") as fh:
        fh.write(os.urandom(3 * 1024 * 1024))
    url = http_mirror(src, no_length=True)
    with pytest.raises(LlmopsError) as err:
        store.stage(HttpSource(url, mirror_files(src)))
    msg = str(err.value)
    assert msg.startswith("no space left on device while writing " + os.path.join(tiny_fs, "m1", ".staging", "extra.bin"))
    assert "the current release is untouched" in msg
    assert store.current() == v1["release"] and tree_sha256(v1["path"]) == v1_sums
    assert part_files(os.path.join(tiny_fs, "m1")) == []  # the partial inode is freed at once
    subprocess.run(["mount", "-o", "remount,size=8m", tiny_fs], check=True)
    res = store.stage(HttpSource(url, mirror_files(src)))
    assert res["resumed"] is True and res["added"] == ["extra.bin"]
    assert tree_sha256(res["path"])["extra.bin"] == tree_sha256(src)["extra.bin"]


def test_read_only_filesystem_is_reported(tmp_path, model_src):
    if os.geteuid() != 0:
        pytest.skip("mounting needs root")
    mnt = tmp_path / "ro"
    mnt.mkdir()
    rc = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(mnt)], capture_output=True, check=False)
    if rc.returncode != 0:
        pytest.skip("cannot mount tmpfs here")
    try:
        with pytest.raises(LlmopsError, match=r"permission denied while creating .*/ro/m1 \(Read-only file system\)"):
            ModelStore(str(mnt), "m1").stage(LocalSource(model_src))
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_permission_denied_for_an_unprivileged_user():
    """A real unprivileged process (uid 65534) staging into a root-owned store."""
    if os.geteuid() != 0:
        pytest.skip("needs root to start a process as another user")
    base = tempfile.mkdtemp(prefix="llmops-perm-")
    try:
        os.chmod(base, 0o755)
        root = os.path.join(base, "store")
        os.mkdir(root, 0o755)
        src = make_model(os.path.join(base, "src"))
        for d, _s, fs in os.walk(base):
            os.chmod(d, 0o755)
            for f in fs:
                os.chmod(os.path.join(d, f), 0o644)
        script_dir = Path(base) / "bin"
        script_dir.mkdir(mode=0o755)
        child = run_child(script_dir, {"root": root, "path": src}, python="/usr/bin/python3", user=65534, group=65534)
        out, _err = child.communicate(timeout=60)
        assert child.returncode == 3, out
        assert "LLMOPS_ERROR: permission denied while creating " + os.path.join(root, "m1") in out
        assert "(Permission denied)" in out and "become: true" in out
        assert os.listdir(root) == []
    finally:
        shutil.rmtree(base)
