"""Hugging Face source through the real huggingface_hub client against a Hub-compatible endpoint on loopback.

The endpoint implements the two calls the source makes, as the Hub answers them: ``GET /api/models/<repo>/revision/
<rev>?blobs=true`` (model_info with files_metadata: siblings with size, blobId and LFS sha256) and ``HEAD``/``GET
/<repo>/resolve/<rev>/<file>`` (X-Repo-Commit, ETag, Content-Length). Skipped where huggingface_hub is not installed.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import threading
import urllib.parse

import pytest
from store_helpers import make_model, tree_sha256

REPO = "acme/tiny-llama"


class FakeHub:
    def __init__(self, directory):
        self.directory = directory
        self.commit = "a" * 40
        self.requests = []
        self.tamper = None  # a file served with other bytes than its LFS sha256 says

    def siblings(self):
        out = []
        for name in sorted(os.listdir(self.directory)):
            with open(os.path.join(self.directory, name), "rb") as fh:
                body = fh.read()
            sib = {"rfilename": name, "size": len(body), "blobId": hashlib.sha1(b"blob %d\0" % len(body) + body).hexdigest()}
            if name.endswith(".safetensors"):
                sib["lfs"] = {"size": len(body), "sha256": hashlib.sha256(body).hexdigest(), "pointerSize": 134}
            out.append(sib)
        return out

    def handler(self):
        hub = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _file(self):
                path = urllib.parse.urlparse(self.path).path
                prefix = f"/{REPO}/resolve/"
                if not path.startswith(prefix):
                    return None, None
                rev, _sep, name = path[len(prefix) :].partition("/")
                if rev not in (hub.commit, "main"):
                    return None, None
                full = os.path.join(hub.directory, urllib.parse.unquote(name))
                if not os.path.isfile(full):
                    return None, None
                with open(full, "rb") as fh:
                    body = fh.read()
                if hub.tamper == name:
                    body = body[:-4] + b"XXXX"
                return name, body

            def _send_file(self, with_body):
                hub.requests.append((self.command, self.path, self.headers.get("Authorization")))
                name, body = self._file()
                if body is None:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("X-Repo-Commit", hub.commit)
                self.send_header("ETag", '"%s"' % hashlib.sha256(body).hexdigest())
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if with_body:
                    self.wfile.write(body)

            def do_HEAD(self):
                self._send_file(False)

            def do_GET(self):
                path = urllib.parse.urlparse(self.path).path
                if path.startswith(f"/api/models/{REPO}/revision/"):
                    hub.requests.append(("API", self.path, self.headers.get("Authorization")))
                    body = json.dumps({"id": REPO, "modelId": REPO, "sha": hub.commit, "siblings": hub.siblings()}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self._send_file(True)

        return H


@pytest.fixture
def hub(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    pytest.importorskip("huggingface_hub")
    fake = FakeHub(make_model(str(tmp_path / "hub-files")))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), fake.handler())
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    fake.endpoint = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield fake
    httpd.shutdown()
    httpd.server_close()


def source(hub, **kw):
    from ansible_collections.llmops.vllm_serving.plugins.module_utils._store.sources import HuggingFaceSource

    return HuggingFaceSource(REPO, revision="main", endpoint=hub.endpoint, token="hf_s3cr3t", scratch=kw.pop("scratch"))


def test_stage_pins_the_commit_verifies_lfs_and_is_idempotent(hub, store_root):
    from ansible_collections.llmops.vllm_serving.plugins.module_utils._store.store import ModelStore

    store = ModelStore(store_root, "m1")
    scratch = os.path.join(store.model_dir, ".download")
    first = store.stage(source(hub, scratch=scratch))
    assert first["changed"] is True and first["revision"] == hub.commit
    got = tree_sha256(first["path"])
    got.pop(".llmops-release.json")
    assert got == tree_sha256(hub.directory)
    assert {a for _m, _p, a in hub.requests} == {"Bearer hf_s3cr3t"}
    assert all(hub.commit in p for m, p, _a in hub.requests if m == "GET")  # downloads pinned to the commit
    assert not os.path.exists(scratch)
    hub.requests.clear()
    again = store.stage(source(hub, scratch=scratch))
    assert again["changed"] is False and [m for m, _p, _a in hub.requests] == ["API"]
    # a new commit changing one file: one download, new release pinned to the new commit
    with open(os.path.join(hub.directory, "generation_config.json"), "w") as fh:
        fh.write('{"temperature": 0.3}')
    hub.commit = "b" * 40
    upd = store.stage(source(hub, scratch=scratch))
    assert upd["changed_files"] == ["generation_config.json"] and upd["files_fetched"] == 1
    assert upd["revision"] == "b" * 40 and upd["previous"] == first["release"]


def test_lfs_sha256_mismatch_never_switches(hub, store_root):
    from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
    from ansible_collections.llmops.vllm_serving.plugins.module_utils._store.store import ModelStore

    store = ModelStore(store_root, "m1")
    scratch = os.path.join(store.model_dir, ".download")
    hub.tamper = "model-00002-of-00002.safetensors"
    with pytest.raises(LlmopsError) as err:
        store.stage(source(hub, scratch=scratch))
    assert "model-00002-of-00002.safetensors: downloaded sha256" in str(err.value)
    assert "hf_s3cr3t" not in str(err.value)
    assert store.current() is None and store.releases() == []


def test_unknown_repo_error_names_it_without_the_token(hub, store_root):
    from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
    from ansible_collections.llmops.vllm_serving.plugins.module_utils._store.sources import HuggingFaceSource
    from ansible_collections.llmops.vllm_serving.plugins.module_utils._store.store import ModelStore

    src = HuggingFaceSource("acme/nope", revision="v1", endpoint=hub.endpoint, token="hf_s3cr3t", scratch=os.path.join(store_root, "m1", ".download"))
    with pytest.raises(LlmopsError) as err:
        ModelStore(store_root, "m1").stage(src)
    assert f"cannot read acme/nope@v1 from {hub.endpoint}" in str(err.value) and "hf_s3cr3t" not in str(err.value)
