# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks a release must pass before ``current`` may point at it."""

from __future__ import annotations

import json
import os
import re
import struct

from .._errors import LlmopsError
from .fsops import sha256_file

INDEX = "model.safetensors.index.json"
SINGLE = "model.safetensors"
# Any one of these makes a usable tokenizer for vLLM / transformers (tekken.json: Mistral's tokenizer).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "tekken.json", "vocab.json")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_MAX_HEADER = 100 * 1024 * 1024  # safetensors refuses headers above 100 MB


def parse_sha256sums(text, origin="checksums"):
    """Parse ``sha256sum`` output (``<hex>  <path>`` or ``<hex> *<path>``) into {path: hex}."""
    out = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        if len(parts) != 2 or not _HEX64.match(parts[0].lower()):
            raise LlmopsError(f"{origin} line {lineno}: {raw!r} is not '<64 hex digits>  <path>' (the format of sha256sum)")
        path = parts[1].strip()
        if path.startswith("*"):
            path = path[1:]
        if path.startswith("./"):
            path = path[2:]
        out[path] = parts[0].lower()
    return out


def normalise_checksums(checksums, origin="checksums"):
    out = {}
    for path, value in (checksums or {}).items():
        hexd = str(value).lower()
        if hexd.startswith("sha256:"):
            hexd = hexd[len("sha256:") :]
        if not _HEX64.match(hexd):
            raise LlmopsError(f"{origin}[{path!r}]={value!r} is not a sha256 (64 hex digits, optionally prefixed 'sha256:')")
        out[str(path)] = hexd
    return out


def safetensors_header(path):
    """Return (header dict, expected file size) from a .safetensors file's 8-byte length + JSON header."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(8)
            if len(raw) != 8:
                raise LlmopsError(f"{path}: {len(raw)} bytes, too short for a safetensors header")
            (hlen,) = struct.unpack("<Q", raw)
            if hlen > _MAX_HEADER:
                raise LlmopsError(f"{path}: header length {hlen} is not plausible; not a safetensors file")
            body = fh.read(hlen)
    except OSError as err:
        raise LlmopsError(f"{path}: cannot read: {err}") from err
    if len(body) != hlen:
        raise LlmopsError(f"{path}: truncated inside the safetensors header ({len(body)} of {hlen} bytes)")
    try:
        header = json.loads(body.decode("utf-8"))
    except ValueError as err:
        raise LlmopsError(f"{path}: safetensors header is not JSON: {err}") from err
    end = 0
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        try:
            end = max(end, int(meta["data_offsets"][1]))
        except (KeyError, TypeError, IndexError, ValueError) as err:
            raise LlmopsError(f"{path}: tensor {name!r} has no valid data_offsets") from err
    return header, 8 + hlen + end


def verify_release(
    directory,
    *,
    files=None,
    require_files=("config.json",),
    require_tokenizer=True,
    checksums=None,
    expected_sizes=None,
    rehash=False,
    label=None,
):
    """Verify a release directory. Returns a summary dict; raises LlmopsError naming the file and why.

    ``files``: {relpath: {"size": int, "sha256": hex}} as recorded for the release (sizes are always
    checked; sha256 re-computed only when ``rehash``). ``checksums``: {relpath: hex} from the user's
    manifest; each listed file must exist and match (using ``files`` sha256 when not ``rehash``).
    """
    files = files or {}
    problems = []
    for name in require_files or ():
        if not os.path.isfile(os.path.join(directory, name)):
            problems.append(f"{name}: required file is missing")
    if require_tokenizer and not any(os.path.isfile(os.path.join(directory, t)) for t in TOKENIZER_FILES):
        problems.append(
            "no tokenizer: none of {} is present (set require_tokenizer=false for a model served with --tokenizer from elsewhere)".format(
                ", ".join(TOKENIZER_FILES)
            )
        )
    shards_checked = 0
    index_path = os.path.join(directory, INDEX)
    shard_names = []
    if os.path.isfile(index_path):
        try:
            with open(index_path, "rb") as fh:
                index = json.loads(fh.read().decode("utf-8"))
            weight_map = index["weight_map"]
            if not isinstance(weight_map, dict):
                raise TypeError("weight_map is not an object")
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise LlmopsError(f"{INDEX}: not a valid safetensors index ({err})") from err
        by_shard = {}
        for tensor, shard in weight_map.items():
            by_shard.setdefault(shard, []).append(tensor)
        for shard in sorted(by_shard):
            shard_names.append(shard)
            full = os.path.join(directory, shard)
            if not os.path.isfile(full):
                problems.append(f"{shard}: shard listed in {INDEX} is missing")
                continue
            try:
                header, want = safetensors_header(full)
            except LlmopsError as err:
                problems.append(str(err).replace(directory + os.sep, ""))
                continue
            have = os.path.getsize(full)
            if have != want:
                problems.append(f"{shard}: size {have} bytes, but its safetensors header needs {want} (truncated or corrupt)")
            missing = [t for t in by_shard[shard] if t not in header]
            if missing:
                problems.append(f"{shard}: {len(missing)} tensor(s) named in {INDEX} are not in the shard, e.g. {missing[0]}")
            shards_checked += 1
    elif os.path.isfile(os.path.join(directory, SINGLE)):
        full = os.path.join(directory, SINGLE)
        shard_names.append(SINGLE)
        try:
            _header, want = safetensors_header(full)
            have = os.path.getsize(full)
            if have != want:
                problems.append(f"{SINGLE}: size {have} bytes, but its safetensors header needs {want}")
        except LlmopsError as err:
            problems.append(str(err).replace(directory + os.sep, ""))
        shards_checked += 1
    for rel, rec in sorted(files.items()):
        full = os.path.join(directory, rel)
        try:
            have = os.path.getsize(full)
        except OSError:
            problems.append(f"{rel}: recorded in the release but missing on disk")
            continue
        if rec.get("size") is not None and have != rec["size"]:
            problems.append("{}: size {} bytes, recorded {}".format(rel, have, rec["size"]))
    for rel, want in sorted((expected_sizes or {}).items()):
        full = os.path.join(directory, rel)
        if os.path.isfile(full) and want is not None and os.path.getsize(full) != want:
            problems.append(f"{rel}: size {os.path.getsize(full)} bytes, the source says {want}")
    hashed = 0
    mismatched = []
    recorded = {rel: rec.get("sha256") for rel, rec in files.items()}
    targets = dict(checksums or {})
    if rehash:
        for rel, sha in recorded.items():
            targets.setdefault(rel, sha)
    for rel, want in sorted(targets.items()):
        full = os.path.join(directory, rel)
        if not os.path.isfile(full):
            problems.append(f"{rel}: listed in the sha256 manifest but missing")
            continue
        have = recorded.get(rel) if not rehash else None
        if have is None:
            have = sha256_file(full)
            hashed += 1
        if have != want:
            mismatched.append(rel)
            problems.append(f"{rel}: sha256 {have} does not match the manifest's {want}")
    if problems:
        raise LlmopsError(
            "release {} failed verification, current was not switched: {}".format(label or os.path.basename(directory.rstrip(os.sep)), "; ".join(problems))
        )
    return {
        "shards_checked": shards_checked,
        "shards": shard_names,
        "checksums_verified": len(targets),
        "files_hashed": hashed,
        "files": len(files),
    }
