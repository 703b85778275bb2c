"""The transaction on real temp filesystems: stage, snapshot, verify, switch, rollback, retention."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._store.sources import LocalSource
from ansible_collections.llmops.vllm_serving.plugins.module_utils._store.store import (
    ModelStore,
    new_release_name,
    release_key,
)

from store_helpers import make_model, tree_sha256


def stage(root, src, **kw):
    return ModelStore(root, "m1").stage(LocalSource(src), **kw)


def write(path, body):
    # a source edit as a user does it (the source is not ours: in-place is fine there)
    with open(path, "w") as fh:
        fh.write(body)


def test_first_stage_layout_record_and_permissions(store_root, model_src):
    res = stage(store_root, model_src)
    assert res["changed"] is True
    name = res["release"]
    model_dir = os.path.join(store_root, "m1")
    # current is a RELATIVE link, so the store works wherever a pod mounts it
    assert os.readlink(os.path.join(model_dir, "current")) == "releases/" + name
    assert res["path"] == os.path.join(model_dir, "releases", name)
    assert res["relative_path"] == "m1/releases/" + name
    rel = res["path"]
    src_sums = tree_sha256(model_src)
    got = tree_sha256(rel)
    record = got.pop(".llmops-release.json")
    assert record
    assert got == src_sums
    with open(os.path.join(rel, ".llmops-release.json")) as fh:
        rec = json.load(fh)
    assert {p: f["sha256"] for p, f in rec["files"].items()} == src_sums
    for dirpath, _d, files in os.walk(rel):
        assert stat.S_IMODE(os.stat(dirpath).st_mode) == 0o555
        for f in files:
            assert stat.S_IMODE(os.stat(os.path.join(dirpath, f)).st_mode) == 0o444
    assert not os.path.exists(os.path.join(model_dir, ".staging"))
    assert not os.path.exists(os.path.join(model_dir, ".staging.json"))
    assert res["verification"]["shards_checked"] == 2


def test_unchanged_restage_is_a_no_op_in_check_and_real_mode(store_root, model_src):
    first = stage(store_root, model_src)
    check = stage(store_root, model_src, check_mode=True)
    again = stage(store_root, model_src)
    for res in (check, again):
        assert res["changed"] is False
        assert res["release"] == first["release"]
        assert (res["added"], res["changed_files"], res["removed"]) == ([], [], [])
    assert ModelStore(store_root, "m1").releases() == [first["release"]]


def test_check_mode_lists_changes_and_writes_nothing(store_root, model_src):
    first = stage(store_root, model_src)
    write(os.path.join(model_src, "generation_config.json"), '{"temperature": 0.7}')
    write(os.path.join(model_src, "chat_template.jinja"), "{{ messages }}")
    os.unlink(os.path.join(model_src, "tokenizer_config.json"))
    before = tree_sha256(os.path.join(store_root))
    res = stage(store_root, model_src, check_mode=True)
    assert res["changed"] is True
    assert res["added"] == ["chat_template.jinja"]
    assert res["changed_files"] == ["generation_config.json"]
    assert res["removed"] == ["tokenizer_config.json"]
    assert res["previous"] == first["release"]
    assert res["release"] != first["release"]
    assert tree_sha256(store_root) == before
    assert ModelStore(store_root, "m1").current() == first["release"]
    real = stage(store_root, model_src)
    # the check-mode prediction equals what the real run did
    for key in ("added", "changed_files", "removed", "previous"):
        assert real[key] == res[key]


def test_check_mode_on_empty_store_creates_nothing(store_root, model_src):
    res = stage(store_root, model_src, check_mode=True)
    assert res["changed"] is True and res["previous"] is None
    assert os.listdir(store_root) == []


def test_update_is_hardlink_snapshot_and_never_modifies_inodes(store_root, model_src):
    first = stage(store_root, model_src)
    old_dir = first["path"]
    old_sums = tree_sha256(old_dir)
    write(os.path.join(model_src, "config.json"), '{"architectures": ["LlamaForCausalLM"], "hidden_size": 128}')
    second = stage(store_root, model_src)
    new_dir = second["path"]
    assert second["changed_files"] == ["config.json"] and second["files_fetched"] == 1
    # the old release is byte-identical: the changed file went to a new inode
    assert tree_sha256(old_dir) == old_sums
    assert os.stat(os.path.join(old_dir, "config.json")).st_ino != os.stat(os.path.join(new_dir, "config.json")).st_ino
    # unchanged files share the inode (cp -al semantics: O(files) not O(bytes))
    shard = "model-00001-of-00002.safetensors"
    assert os.stat(os.path.join(old_dir, shard)).st_ino == os.stat(os.path.join(new_dir, shard)).st_ino
    assert os.stat(os.path.join(new_dir, shard)).st_nlink == 2
    with open(os.path.join(new_dir, "config.json")) as fh:
        assert json.load(fh)["hidden_size"] == 128


def test_rollback_restores_byte_identical_files(store_root, model_src):
    store = ModelStore(store_root, "m1")
    first = stage(store_root, model_src)
    sums_v1 = tree_sha256(first["path"])
    write(os.path.join(model_src, "tokenizer.json"), '{"version": "2.0"}')
    os.unlink(os.path.join(model_src, "generation_config.json"))
    second = stage(store_root, model_src)
    assert tree_sha256(os.path.join(store_root, "m1", "current")) != sums_v1
    check = store.rollback("previous", check_mode=True)
    assert check["changed"] is True and check["release"] == first["release"]
    assert store.current() == second["release"]
    res = store.rollback("previous", rehash=True)
    assert res["release"] == first["release"] and res["previous"] == second["release"]
    assert res["added"] == ["generation_config.json"] and res["changed_files"] == ["tokenizer.json"]
    assert store.current() == first["release"]
    assert tree_sha256(os.path.join(store_root, "m1", "current")) == sums_v1
    # named rollback is idempotent; forward again by name
    assert store.rollback(first["release"])["changed"] is False
    fwd = store.rollback(second["release"])
    assert fwd["changed"] is True and store.current() == second["release"]


def test_rollback_errors_name_the_way_out(store_root, model_src):
    store = ModelStore(store_root, "m1")
    with pytest.raises(LlmopsError, match="no releases to roll back to"):
        store.rollback("previous")
    first = stage(store_root, model_src)
    with pytest.raises(LlmopsError, match=r"no release older than current '" + first["release"]):
        store.rollback("previous")
    with pytest.raises(LlmopsError, match=r"release='nope' does not exist for m1; releases: \['" + first["release"]):
        store.rollback("nope")


def test_rollback_refuses_a_damaged_release(store_root, model_src):
    store = ModelStore(store_root, "m1")
    first = stage(store_root, model_src)
    write(os.path.join(model_src, "config.json"), '{"hidden_size": 1}')
    second = stage(store_root, model_src)
    victim = os.path.join(first["path"], "model-00002-of-00002.safetensors")
    os.chmod(first["path"], 0o755)
    os.truncate(victim, 100)  # in place, as a careless admin would
    with pytest.raises(LlmopsError, match=r"model-00002-of-00002.safetensors: size 100 bytes"):
        store.rollback("previous")
    assert store.current() == second["release"]


def test_checksum_mismatch_never_switches(store_root, model_src):
    store = ModelStore(store_root, "m1")
    first = stage(store_root, model_src)
    before = tree_sha256(first["path"])
    write(os.path.join(model_src, "config.json"), '{"architectures": ["X"], "hidden_size": 8}')
    bad = {"config.json": "0" * 64}
    with pytest.raises(LlmopsError) as err:
        store.stage(LocalSource(model_src), checksums=bad)
    msg = str(err.value)
    assert "config.json: sha256" in msg and "does not match the manifest's " + "0" * 64 in msg
    assert "current was not switched" in msg
    assert store.current() == first["release"]
    assert store.releases() == [first["release"]]
    assert tree_sha256(first["path"]) == before
    # the bad staging is discarded, not resumed
    assert not os.path.exists(os.path.join(store_root, "m1", ".staging"))
    assert store.read_marker() is None


def test_checksums_manifest_matching_passes_and_unknown_path_fails(store_root, model_src):
    sums = tree_sha256(model_src)
    res = stage(store_root, model_src, checksums=sums)
    assert res["verification"]["checksums_verified"] == len(sums)
    with pytest.raises(LlmopsError, match=r"checksums lists 'nope.bin', which the source does not provide"):
        stage(store_root, model_src, checksums={"nope.bin": "a" * 64})


@pytest.mark.parametrize(
    ("mutate", "expect"),
    [
        (lambda d: os.unlink(os.path.join(d, "config.json")), r"config.json: required file is missing"),
        (lambda d: os.unlink(os.path.join(d, "tokenizer.json")), r"no tokenizer: none of tokenizer.json"),
        (
            lambda d: os.truncate(os.path.join(d, "model-00002-of-00002.safetensors"), 5000),
            r"model-00002-of-00002.safetensors: size 5000 bytes, but its safetensors header needs",
        ),
        (
            lambda d: os.unlink(os.path.join(d, "model-00001-of-00002.safetensors")),
            r"model-00001-of-00002.safetensors: shard listed in model.safetensors.index.json is missing",
        ),
    ],
)
def test_verification_failures_name_the_file(store_root, tmp_path, mutate, expect):
    src = make_model(str(tmp_path / "bad"))
    mutate(src)
    with pytest.raises(LlmopsError, match=expect):
        stage(store_root, src)
    assert ModelStore(store_root, "m1").current() is None
    assert ModelStore(store_root, "m1").releases() == []


def test_damaged_current_is_repaired_by_restage(store_root, model_src):
    first = stage(store_root, model_src)
    victim = os.path.join(first["path"], "tokenizer.json")
    os.chmod(first["path"], 0o755)
    os.unlink(victim)
    res = stage(store_root, model_src)
    assert res["changed"] is True and res["changed_files"] == ["tokenizer.json"]
    assert tree_sha256(res["path"])["tokenizer.json"] == tree_sha256(model_src)["tokenizer.json"]


def test_retention_keeps_n_and_never_current(store_root, model_src):
    store = ModelStore(store_root, "m1")
    names = []
    for i in range(4):
        write(os.path.join(model_src, "generation_config.json"), '{"i": %d}' % i)
        names.append(stage(store_root, model_src, keep=0)["release"])
    assert store.releases() == names
    store.rollback(names[0])
    assert store.prune(2, check_mode=True) == [names[1]]
    assert store.releases() == names
    assert store.prune(2) == [names[1]]
    assert store.releases() == [names[0], names[2], names[3]]
    assert store.current() == names[0]
    # prune during a stage: the new release plus keep-1 newest... and current
    write(os.path.join(model_src, "generation_config.json"), '{"i": 9}')
    res = stage(store_root, model_src, keep=1)
    assert res["pruned"] == [names[0], names[2], names[3]]
    assert store.releases() == [res["release"]] and res["releases"] == [res["release"]]


def test_owner_and_group_applied_and_drift_repaired(store_root, model_src):
    if os.geteuid() != 0:
        pytest.skip("chown to another user needs root")
    res = stage(store_root, model_src, uid=65534, gid=65534)
    st = os.stat(os.path.join(res["path"], "config.json"))
    assert (st.st_uid, st.st_gid) == (65534, 65534)
    os.chmod(os.path.join(res["path"], "config.json"), 0o644)
    check = stage(store_root, model_src, uid=65534, gid=65534, check_mode=True)
    assert check["changed"] is True and check["permissions_fixed"] == 1
    assert stat.S_IMODE(os.stat(os.path.join(res["path"], "config.json")).st_mode) == 0o644
    fix = stage(store_root, model_src, uid=65534, gid=65534)
    assert fix["changed"] is True and fix["permissions_fixed"] == 1 and fix["release"] == res["release"]
    assert stat.S_IMODE(os.stat(os.path.join(res["path"], "config.json")).st_mode) == 0o444
    assert stage(store_root, model_src, uid=65534, gid=65534)["changed"] is False


def test_lock_refuses_a_concurrent_run(store_root, model_src):
    stage(store_root, model_src)
    holder = ModelStore(store_root, "m1")
    holder.lock(create=False)
    try:
        with pytest.raises(LlmopsError, match="locked by another model_release run"):
            stage(store_root, model_src)
    finally:
        holder.unlock()


@pytest.mark.parametrize(
    ("root", "model", "expect"),
    [
        ("relative/root", "m1", r"root='relative/root' must be an absolute path"),
        ("/srv/models", "org/model", r"model='org/model' is not a valid model directory name"),
        ("/srv/models", "", r"model='' is not a valid"),
        ("/srv/models", "../x", r"model='../x' is not a valid"),
    ],
)
def test_bad_input(root, model, expect):
    with pytest.raises(LlmopsError, match=expect):
        ModelStore(root, model)


def test_source_errors(store_root, tmp_path):
    with pytest.raises(LlmopsError, match=r"source.path='rel' must be an absolute directory path"):
        LocalSource("rel")
    with pytest.raises(LlmopsError, match=r"is not a directory on the target"):
        stage(store_root, str(tmp_path / "missing"))


def test_release_names_sort_and_never_collide():
    now = 1_800_000_000
    a = new_release_name([], now)
    assert a == "20270115T080000Z"
    b = new_release_name([a], now)
    c = new_release_name([a, b], now)
    assert (b, c) == (a + "-1", a + "-2")
    assert sorted([c, a, b, a + "-10"], key=release_key) == [a, b, c, a + "-10"]
    # a clock stepping backwards still yields a name after the newest
    assert release_key(new_release_name(["20990101T000000Z"], now)) > release_key("20990101T000000Z")


def test_staging_from_another_stores_release_ignores_its_record(store_root, model_src, tmp_path):
    first = stage(store_root, model_src)
    other = ModelStore(str(tmp_path), "copy").stage(LocalSource(first["path"]))
    assert ".llmops-release.json" not in other["added"] and len(other["added"]) == len(tree_sha256(model_src))
