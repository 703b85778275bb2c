"""Run the real model_release module as Ansible does (a process with an args file) against real directories."""

from __future__ import annotations

import hashlib
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(HERE))))
sys.path.insert(0, os.path.join(ROOT, "tests", "unit", "plugins", "module_utils", "_store"))

from store_helpers import make_model, tree_sha256  # noqa: E402


import module_runner  # noqa: E402


def run_module(tmp_path, args, check_mode=False, diff=False):
    return module_runner.run_module("model_release", tmp_path, args, check_mode=check_mode, diff=diff)


@pytest.fixture
def env(tmp_path):
    root = tmp_path / "store"
    root.mkdir()
    src = make_model(str(tmp_path / "src"))
    return {"root": str(root), "name": "m1", "source": {"type": "path", "path": src}}


def test_four_step_idempotency_and_check_equals_real(tmp_path, env):
    check1 = run_module(tmp_path, env, check_mode=True, diff=True)
    assert check1["changed"] is True and "failed" not in check1
    assert os.listdir(env["root"]) == []  # check mode wrote nothing, not even a lock file
    real1 = run_module(tmp_path, env, diff=True)
    assert real1["changed"] is True
    for key in ("added", "changed_files", "removed", "previous", "relative_current_path"):
        assert check1[key] == real1[key]
    assert real1["diff"]["before"]["current"] is None and real1["diff"]["after"]["current"] == real1["release"]
    assert "config.json" in real1["diff"]["after"]["files"]
    check2 = run_module(tmp_path, env, check_mode=True)
    real2 = run_module(tmp_path, env)
    assert check2["changed"] is False and real2["changed"] is False
    assert check2["release"] == real2["release"] == real1["release"]
    assert os.readlink(os.path.join(env["root"], "m1", "current")) == "releases/" + real1["release"]


def test_update_rollback_and_diff(tmp_path, env):
    first = run_module(tmp_path, env)
    sums_v1 = tree_sha256(first["path"])
    with open(os.path.join(env["source"]["path"], "generation_config.json"), "w") as fh:
        fh.write('{"temperature": 0.1}')
    check = run_module(tmp_path, env, check_mode=True, diff=True)
    assert check["changed_files"] == ["generation_config.json"]
    assert check["diff"]["after"]["files"] == ["generation_config.json"]
    second = run_module(tmp_path, env)
    assert second["previous"] == first["release"] and second["release"] != first["release"]
    rb_args = {"root": env["root"], "name": "m1", "state": "rollback", "verify_checksums": True}
    rb_check = run_module(tmp_path, rb_args, check_mode=True)
    assert rb_check["changed"] is True and rb_check["release"] == first["release"]
    assert os.readlink(os.path.join(env["root"], "m1", "current")) == "releases/" + second["release"]
    rb = run_module(tmp_path, rb_args)
    assert rb["changed"] is True and rb["release"] == first["release"]
    assert tree_sha256(os.path.join(env["root"], "m1", "current")) == sums_v1
    named = dict(rb_args, release=first["release"])
    assert run_module(tmp_path, named)["changed"] is False


def test_checksums_file_mismatch_never_switches(tmp_path, env):
    first = run_module(tmp_path, env)
    with open(os.path.join(env["source"]["path"], "tokenizer.json"), "w") as fh:
        fh.write('{"v": 2}')
    manifest = tmp_path / "SHA256SUMS"
    bad = hashlib.sha256(b"something else").hexdigest()
    manifest.write_text(f"{bad}  tokenizer.json\n")
    res = run_module(tmp_path, dict(env, checksums_file=str(manifest)))
    assert res["failed"] is True
    assert "tokenizer.json: sha256" in res["msg"] and f"does not match the manifest's {bad}" in res["msg"]
    assert os.readlink(os.path.join(env["root"], "m1", "current")) == "releases/" + first["release"]


def test_token_is_never_in_the_output(tmp_path, env):
    args = dict(env, source={"type": "http", "url": "http://127.0.0.1:9/m/", "files": ["config.json"], "token": "hf_s3cr3tTOKEN", "timeout": 2})
    res = run_module(tmp_path, args)
    assert res["failed"] is True and "is the mirror reachable" in res["msg"]
    assert "hf_s3cr3tTOKEN" not in res["_raw"]


def test_huggingface_without_library_says_what_to_install(tmp_path, env):
    try:
        import huggingface_hub  # noqa: F401

        pytest.skip("huggingface_hub is installed here")
    except ImportError:
        pass
    res = run_module(tmp_path, dict(env, source={"type": "huggingface", "repo_id": "Qwen/Qwen2.5-0.5B", "token": "hf_x"}))
    assert res["failed"] is True and "huggingface_hub" in res["msg"] and "hf_x" not in res["_raw"]


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        ({"source": None}, "state is present but all of the following are missing: source"),
        ({"source": {"type": "http", "url": "http://x/"}}, "type is http but all of the following are missing: files"),
        ({"owner": "no-such-user-xyz"}, "owner='no-such-user-xyz' is not a user on the target"),
        ({"keep": -1}, "keep=-1 must be 0 (keep all) or a positive number"),
        ({"name": "org/model"}, "model='org/model' is not a valid model directory name"),
        ({"checksums": {"config.json": "nope"}}, "checksums['config.json']='nope' is not a sha256"),
    ],
)
def test_bad_input_fails_before_any_change(tmp_path, env, args, expect):
    merged = dict(env, **args)
    merged = {k: v for k, v in merged.items() if v is not None}
    res = run_module(tmp_path, merged)
    assert res["failed"] is True and expect in res["msg"], res["msg"]
    assert os.listdir(env["root"]) == []


def test_missing_root(tmp_path, env):
    res = run_module(tmp_path, dict(env, root=str(tmp_path / "nope")))
    assert res["failed"] is True and "does not exist on the target; create it first" in res["msg"]


def test_truncated_config_json_fails_the_module_and_keeps_current(tmp_path, env):
    first = run_module(tmp_path, env)
    cfg = os.path.join(env["source"]["path"], "config.json")
    with open(cfg, "r+b") as fh:
        fh.truncate(30)
    res = run_module(tmp_path, env)
    assert res["failed"] is True and not res.get("changed")
    assert "config.json is not valid JSON: " in res["msg"] and "truncated?" in res["msg"]
    assert "re-stage from a complete source" in res["msg"] and "current still points to " + first["release"] in res["msg"]
    model_dir = os.path.join(env["root"], "m1")
    assert os.readlink(os.path.join(model_dir, "current")) == "releases/" + first["release"]
    assert os.listdir(os.path.join(model_dir, "releases")) == [first["release"]]
    assert sorted(os.listdir(model_dir)) == ["current", "releases"]
