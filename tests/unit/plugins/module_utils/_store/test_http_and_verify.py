"""HTTP(S) mirror source against a real http.server on loopback; manifest parsing; safetensors checks."""

from __future__ import annotations

import os

import pytest
from store_helpers import make_model, tree_sha256

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._store.sources import HttpSource, check_relpath
from ansible_collections.llmops.vllm_serving.plugins.module_utils._store.store import ModelStore
from ansible_collections.llmops.vllm_serving.plugins.module_utils._store.verify import (
    normalise_checksums,
    parse_sha256sums,
    safetensors_header,
)

FILES = [
    "config.json",
    "generation_config.json",
    "model-00001-of-00002.safetensors",
    "model-00002-of-00002.safetensors",
    "model.safetensors.index.json",
    "tokenizer.json",
    "tokenizer_config.json",
]


def test_http_mirror_stage_then_unchanged_without_downloads(tmp_path, store_root, http_mirror):
    src = make_model(str(tmp_path / "mirror"))
    url = http_mirror(src)
    log = http_mirror.requests
    store = ModelStore(store_root, "m1")
    first = store.stage(HttpSource(url, FILES, token="s3cr3t-token", revision="mirror-2026-11"))
    assert first["changed"] is True and first["revision"] == "mirror-2026-11"
    got = tree_sha256(first["path"])
    got.pop(".llmops-release.json")
    assert got == tree_sha256(src)
    assert {m for m, _p, _a in log} == {"HEAD", "GET"}
    assert all(a == "Bearer s3cr3t-token" for _m, _p, a in log)
    log.clear()
    # second run: HEAD validators (Content-Length + Last-Modified) match the record -> no GET at all
    for check in (True, False):
        res = store.stage(HttpSource(url, FILES, revision="mirror-2026-11"), check_mode=check)
        assert res["changed"] is False and res["release"] == first["release"]
    assert [m for m, _p, _a in log] == ["HEAD"] * len(FILES) * 2
    # a new pinned revision label alone makes a new (all hard-linked) release
    res = store.stage(HttpSource(url, FILES, revision="mirror-2026-12"))
    assert res["changed"] is True and res["files_fetched"] == 0 and res["files_linked"] == len(FILES)


def test_http_sha256_in_file_list_mismatch_never_switches(tmp_path, store_root, http_mirror):
    src = make_model(str(tmp_path / "mirror"))
    url = http_mirror(src)
    store = ModelStore(store_root, "m1")
    first = store.stage(HttpSource(url, FILES))
    with open(os.path.join(src, "tokenizer.json"), "w") as fh:
        fh.write('{"tampered": true}')
    files = [f if f != "tokenizer.json" else {"path": f, "sha256": "ab" * 32} for f in FILES]
    with pytest.raises(LlmopsError, match=r"tokenizer.json: downloaded sha256 [0-9a-f]{64} does not match the source's (ab){32}"):
        store.stage(HttpSource(url, files))
    assert store.current() == first["release"] and store.releases() == [first["release"]]
    assert store.read_marker() is None


def test_http_errors_are_actionable_and_never_show_the_token(tmp_path, store_root, http_mirror):
    src = make_model(str(tmp_path / "mirror"))
    url = http_mirror(src)
    with pytest.raises(LlmopsError) as err:
        ModelStore(store_root, "m1").stage(HttpSource(url, [*FILES, "missing.bin"], token="s3cr3t-token"))
    assert "HEAD " + url + "missing.bin: HTTP 404" in str(err.value)
    assert "s3cr3t-token" not in str(err.value)
    with pytest.raises(LlmopsError, match=r"is the mirror reachable from the target"):
        ModelStore(store_root, "m1").stage(HttpSource("http://127.0.0.1:9/", FILES, timeout=2))


@pytest.mark.parametrize(
    ("url", "files", "expect"),
    [
        ("ftp://mirror/x", FILES, r"source.url='ftp://mirror/x' is not an http\(s\) URL"),
        ("https://mirror/x", [], r"source.files is empty"),
        ("https://mirror/x", ["../../etc/passwd"], r"file path '../../etc/passwd' must be relative"),
        ("https://mirror/x", ["/etc/passwd"], r"file path '/etc/passwd' must be relative"),
        ("https://mirror/x", [".llmops-release.json"], r"is reserved by the model store"),
        ("https://mirror/x", [{"sha256": "x"}], r"must be a path string or a dict with 'path'"),
    ],
)
def test_http_bad_input(url, files, expect):
    with pytest.raises(LlmopsError, match=expect):
        HttpSource(url, files)


def test_check_relpath_normalises():
    assert check_relpath("sub/dir/a.safetensors", "x") == "sub/dir/a.safetensors"
    with pytest.raises(LlmopsError):
        check_relpath("a/../../b", "x")


def test_parse_sha256sums():
    a, b = "a" * 64, "B" * 64
    text = f"# comment\n{a}  config.json\n{b} *./sub/model.safetensors\n\n"
    assert parse_sha256sums(text) == {"config.json": a, "sub/model.safetensors": b.lower()}
    with pytest.raises(LlmopsError, match=r"checksums line 1: 'abc  x' is not '<64 hex digits>  <path>'"):
        parse_sha256sums("abc  x")
    assert normalise_checksums({"x": "sha256:" + a}) == {"x": a}
    with pytest.raises(LlmopsError, match=r"checksums\['x'\]='zz' is not a sha256"):
        normalise_checksums({"x": "zz"})


def test_safetensors_header_size(tmp_path):
    src = make_model(str(tmp_path / "m"), shards=1, tensors_per_shard=3, tensor_bytes=1000)
    shard = os.path.join(src, "model-00001-of-00001.safetensors")
    header, size = safetensors_header(shard)
    assert size == os.path.getsize(shard)
    assert sorted(k for k in header if k != "__metadata__") == [f"model.layers.0.w{i}" for i in range(3)]
    with open(shard, "r+b") as fh:
        fh.write(b"\xff" * 8)
    with pytest.raises(LlmopsError, match=r"header length \d+ is not plausible"):
        safetensors_header(shard)
