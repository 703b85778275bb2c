# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where model files come from: a local/NFS path, an HTTP(S) mirror with a file list, a Hugging Face endpoint.

Each source lists entries (relative path, size, sha256 when the source knows it, and a cheap
``fingerprint`` that changes when the content may have changed) and opens a reader per entry.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import ssl
import urllib.error
import urllib.parse
import urllib.request

from .._errors import LlmopsError
from .fsops import remove_tree, sha256_file, walk_files

RECORD_NAME = ".llmops-release.json"
# A release record in a source (staging from another store's release) is never copied: each release writes its own.
DEFAULT_EXCLUDE = (".git/*", ".cache/*", ".huggingface/*", "*.llmops-part-*", RECORD_NAME)


def check_relpath(rel, origin):
    """A file path from a source must stay inside the release."""
    if not isinstance(rel, str) or not rel:
        raise LlmopsError(f"{origin}: file path {rel!r} is empty or not a string")
    norm = posixpath.normpath(rel)
    if rel.startswith("/") or "\\" in rel or norm != rel or norm == ".." or norm.startswith("../"):
        raise LlmopsError(
            f"{origin}: file path {rel!r} must be relative, normalised and stay inside the release (e.g. 'config.json', 'subdir/shard.safetensors')"
        )
    if norm == RECORD_NAME or norm.startswith(".staging"):
        raise LlmopsError(f"{origin}: file path {rel!r} is reserved by the model store")
    return norm


class Entry:
    __slots__ = ("path", "size", "sha256", "fingerprint")

    def __init__(self, path, size=None, sha256=None, fingerprint=None):
        self.path = path
        self.size = size
        self.sha256 = sha256
        self.fingerprint = fingerprint or {}

    def as_dict(self):
        return {"path": self.path, "size": self.size, "sha256": self.sha256, "fingerprint": self.fingerprint}


def _selected(rel, include, exclude):
    if include and not any(fnmatch.fnmatchcase(rel, p) for p in include):
        return False
    return not any(fnmatch.fnmatchcase(rel, p) for p in exclude)


class LocalSource:
    """A directory on the node: local disk or an NFS mount."""

    kind = "path"

    def __init__(self, path, include=None, exclude=None, revision=None):
        if not path or not os.path.isabs(path):
            raise LlmopsError(f"source.path={path!r} must be an absolute directory path on the target")
        self.path = path
        self.include = list(include or [])
        self.exclude = list(DEFAULT_EXCLUDE) + list(exclude or [])
        self.revision = revision

    def describe(self):
        return {"type": self.kind, "location": self.path}

    def resolve_revision(self):
        return self.revision

    def list_entries(self, checksum=False):
        if not os.path.isdir(self.path):
            raise LlmopsError(
                f"source.path={self.path!r} is not a directory on the target; point it at the model directory "
                "(the one holding config.json), e.g. an NFS mount such as /mnt/models/llama-3.1-8b"
            )
        if not os.access(self.path, os.R_OK | os.X_OK):
            raise LlmopsError(f"source.path={self.path!r} is not readable by this user; run with become: true")
        entries = []
        for rel in walk_files(self.path):
            if not _selected(rel, self.include, self.exclude):
                continue
            full = os.path.join(self.path, rel)
            st = os.stat(full)
            sha = sha256_file(full) if checksum else None
            entries.append(Entry(rel, st.st_size, sha, {"size": st.st_size, "mtime_ns": st.st_mtime_ns}))
        if not entries:
            raise LlmopsError(f"source.path={self.path!r} holds no files (after include/exclude)")
        return entries

    def content_sha256(self, entry):
        return sha256_file(os.path.join(self.path, entry.path))

    def open(self, entry):
        try:
            return open(os.path.join(self.path, entry.path), "rb")
        except OSError as err:
            raise LlmopsError(f"source.path: cannot read {entry.path}: {err}") from err


class HttpSource:
    """An HTTP(S) mirror: ``url`` + a list of files (strings or {path, sha256, size})."""

    kind = "http"

    def __init__(self, url, files, *, token=None, validate_certs=True, ca_path=None, timeout=60, revision=None):
        parsed = urllib.parse.urlparse(url or "")
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise LlmopsError(f"source.url={url!r} is not an http(s) URL; e.g. https://mirror.example.com/models/llama-3.1-8b/")
        if not files:
            raise LlmopsError("source.files is empty: an HTTP mirror needs the list of files to fetch")
        self.url = url if url.endswith("/") else url + "/"
        self.token = token
        self.timeout = timeout
        self.revision = revision
        self.files = []
        for item in files:
            if isinstance(item, str):
                self.files.append(Entry(check_relpath(item, "source.files")))
            elif isinstance(item, dict) and "path" in item:
                sha = item.get("sha256")
                size = item.get("size")
                self.files.append(
                    Entry(
                        check_relpath(item["path"], "source.files"),
                        int(size) if size is not None else None,
                        str(sha).lower() if sha else None,
                    )
                )
            else:
                raise LlmopsError(f"source.files entry {item!r} must be a path string or a dict with 'path' (and optional 'sha256', 'size')")
        self.context = None
        if parsed.scheme == "https":
            self.context = ssl.create_default_context(cafile=ca_path) if validate_certs else ssl._create_unverified_context()  # noqa: S323

    def describe(self):
        return {"type": self.kind, "location": self.url}

    def resolve_revision(self):
        return self.revision

    def _request(self, rel, method):
        url = urllib.parse.urljoin(self.url, urllib.parse.quote(rel))
        req = urllib.request.Request(url, method=method)
        if self.token:
            req.add_header("Authorization", "Bearer " + self.token)
        try:
            # the pure core has no Ansible imports (so no open_url); an opener is what urllib's own helper builds:
            # environment proxies, redirects, and the TLS context given here
            opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=self.context))
            return opener.open(req, timeout=self.timeout)
        except urllib.error.HTTPError as err:
            raise LlmopsError(f"{method} {url}: HTTP {err.code} {err.reason}; check source.url and source.files (and the token for a private mirror)") from err
        except (urllib.error.URLError, OSError) as err:
            raise LlmopsError("{} {}: {}; is the mirror reachable from the target?".format(method, url, getattr(err, "reason", err))) from err

    def list_entries(self, checksum=False):
        out = []
        for e in self.files:
            if e.sha256:
                out.append(Entry(e.path, e.size, e.sha256, {"sha256": e.sha256}))
                continue
            resp = self._request(e.path, "HEAD")
            try:
                length = resp.headers.get("Content-Length")
                etag = resp.headers.get("ETag")
                modified = resp.headers.get("Last-Modified")
            finally:
                resp.close()
            size = e.size if e.size is not None else (int(length) if length is not None else None)
            fp = {"size": size, "etag": etag, "last_modified": modified} if (etag or modified) else {}
            out.append(Entry(e.path, size, None, fp))
        return out

    def open(self, entry):
        return self._request(entry.path, "GET")


class HuggingFaceSource:
    """A Hugging Face Hub-compatible endpoint, through huggingface_hub (the token is never logged)."""

    kind = "huggingface"

    def __init__(self, repo_id, *, revision="main", endpoint=None, token=None, include=None, exclude=None, scratch=None):
        if not repo_id or "/" not in repo_id and not repo_id.replace("-", "").replace("_", "").isalnum():
            raise LlmopsError(f"source.repo_id={repo_id!r} is not a repository id such as 'Qwen/Qwen2.5-0.5B'")
        try:
            import huggingface_hub  # noqa: F401
        except ImportError as err:
            raise LlmopsError("source.type=huggingface needs the huggingface_hub Python library on the target") from err
        self.repo_id = repo_id
        self.revision = revision or "main"
        self.endpoint = endpoint
        self.token = token
        self.include = list(include or [])
        self.exclude = list(DEFAULT_EXCLUDE) + list(exclude or [])
        self.scratch = scratch
        self.commit = None

    def describe(self):
        return {"type": self.kind, "location": "{}/{}".format(self.endpoint or "https://huggingface.co", self.repo_id)}

    def _api(self):
        from huggingface_hub import HfApi

        return HfApi(endpoint=self.endpoint, token=self.token or False)

    def resolve_revision(self):
        if self.commit is None:
            self.list_entries()
        return self.commit

    def list_entries(self, checksum=False):
        try:
            info = self._api().model_info(self.repo_id, revision=self.revision, files_metadata=True)
        except Exception as err:  # huggingface_hub raises many types; never include the token
            raise LlmopsError(
                "cannot read {}@{} from {}: {}: {}".format(
                    self.repo_id,
                    self.revision,
                    self.endpoint or "https://huggingface.co",
                    type(err).__name__,
                    str(err).split("\n", 1)[0],
                )
            ) from err
        self.commit = info.sha
        out = []
        for sib in info.siblings or []:
            rel = check_relpath(sib.rfilename, "huggingface " + self.repo_id)
            if not _selected(rel, self.include, self.exclude):
                continue
            lfs = getattr(sib, "lfs", None)
            sha = getattr(lfs, "sha256", None) if lfs is not None else None
            if sha is None and isinstance(lfs, dict):
                sha = lfs.get("sha256")
            blob = getattr(sib, "blob_id", None)
            fp = {"sha256": sha} if sha else ({"blob_id": blob} if blob else {})
            out.append(Entry(rel, getattr(sib, "size", None), sha, fp))
        if not out:
            raise LlmopsError(f"{self.repo_id}@{self.revision}: no files after include/exclude")
        return out

    def open(self, entry):
        from huggingface_hub import hf_hub_download

        scratch = self.scratch
        os.makedirs(scratch, exist_ok=True)
        try:
            local = hf_hub_download(
                self.repo_id,
                entry.path,
                revision=self.commit or self.revision,
                endpoint=self.endpoint,
                token=self.token or False,
                local_dir=scratch,
            )
        except Exception as err:
            raise LlmopsError(
                "download of {} from {}@{} failed: {}: {}".format(
                    entry.path, self.repo_id, self.commit or self.revision, type(err).__name__, str(err).split("\n", 1)[0]
                )
            ) from err
        return _RemoveOnClose(local)

    def cleanup(self):
        if self.scratch and os.path.isdir(self.scratch):
            remove_tree(self.scratch)


class _RemoveOnClose:
    def __init__(self, path):
        self.path = path
        self.fh = open(path, "rb")

    def read(self, n):
        return self.fh.read(n)

    def close(self):
        self.fh.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
