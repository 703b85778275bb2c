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
from .fsops import PART_MARK, sha256_file

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


def _json_error(err):
    """``Expecting ',' delimiter at line 3 column 5 (char 40 of 40: truncated?)`` from a JSONDecodeError."""
    msg = getattr(err, "msg", None)
    if msg is None:
        return str(err)
    pos = getattr(err, "pos", 0)
    doc = (getattr(err, "doc", "") or "").rstrip()
    if pos >= len(doc) or (not doc.endswith(("}", "]")) and msg != "Extra data"):
        return f"{msg}: line {err.lineno} column {err.colno} (char {pos} of {len(doc)}: truncated?)"
    return f"{msg}: line {err.lineno} column {err.colno} (char {pos})"


def load_json_file(path, name=None, want=dict):
    """Parse a JSON file; return (document, None) or (None, problem naming the file and what is wrong)."""
    name = name or os.path.basename(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as err:
        return None, f"{name}: cannot read: {err}"
    if not raw.strip():
        return None, f"{name} is empty ({len(raw)} bytes), not JSON (truncated?)"
    try:
        doc = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        return None, f"{name} is not valid JSON: not UTF-8 ({err.reason} at byte {err.start})"
    except ValueError as err:
        return None, f"{name} is not valid JSON: {_json_error(err)}"
    if want is not None and not isinstance(doc, want):
        return None, f"{name} holds a JSON {type(doc).__name__}, not the JSON object it must be"
    return doc, None


def safetensors_header(path, name=None):
    """Return (header dict, expected file size) from a .safetensors file's 8-byte length + JSON header.

    Raises LlmopsError when the header length or any tensor's ``data_offsets`` does not fit the file.
    """
    name = name or path
    try:
        have = os.path.getsize(path)
        with open(path, "rb") as fh:
            raw = fh.read(8)
            if len(raw) != 8:
                raise LlmopsError(f"{name}: {len(raw)} bytes, too short for a safetensors header (8-byte length + JSON; truncated?)")
            (hlen,) = struct.unpack("<Q", raw)
            if hlen > _MAX_HEADER:
                raise LlmopsError(f"{name}: header length {hlen} is not plausible; not a safetensors file (or its first bytes are damaged)")
            if 8 + hlen > have:
                raise LlmopsError(f"{name}: header length {hlen} does not fit the file's {have} bytes (truncated inside the safetensors header)")
            body = fh.read(hlen)
    except OSError as err:
        raise LlmopsError(f"{name}: cannot read: {err}") from err
    if len(body) != hlen:
        raise LlmopsError(f"{name}: truncated inside the safetensors header ({len(body)} of {hlen} bytes)")
    try:
        header = json.loads(body.decode("utf-8"))
    except ValueError as err:  # UnicodeDecodeError is a ValueError
        raise LlmopsError(f"{name}: safetensors header is not valid JSON: {_json_error(err)}") from err
    if not isinstance(header, dict):
        raise LlmopsError(f"{name}: safetensors header is JSON but not an object")
    end = 0
    for tensor, meta in header.items():
        if tensor == "__metadata__":
            continue
        try:
            begin, stop = meta["data_offsets"]
            if isinstance(begin, bool) or isinstance(stop, bool) or not isinstance(begin, int) or not isinstance(stop, int):
                raise TypeError("not integers")
        except (KeyError, TypeError, ValueError) as err:
            raise LlmopsError(f"{name}: tensor {tensor!r} has no valid data_offsets (want [begin, end] integers)") from err
        if not 0 <= begin <= stop:
            raise LlmopsError(f"{name}: tensor {tensor!r} has data_offsets [{begin}, {stop}], not 0 <= begin <= end")
        end = max(end, stop)
    return header, 8 + hlen + end


# JSON files a model directory may hold that vLLM / transformers parse at start; each is checked when present.
JSON_FILES = ("config.json", "generation_config.json", "tokenizer_config.json", "tokenizer.json", "special_tokens_map.json", "preprocessor_config.json")
RESTAGE = "re-stage from a complete copy of the source (a download or copy that was cut short leaves such files)"


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
    remedy=RESTAGE,
):
    """Verify a release directory. Returns a summary dict; raises LlmopsError naming the file and why.

    ``files``: {relpath: {"size": int, "sha256": hex}} as recorded for the release (sizes are always
    checked; sha256 re-computed only when ``rehash``). ``checksums``: {relpath: hex} from the user's
    manifest; each listed file must exist and match (using ``files`` sha256 when not ``rehash``).
    Every JSON file of ``JSON_FILES`` present is parsed, the safetensors index is parsed and each shard
    it names must be present, and every ``*.safetensors`` file's header must fit the file.
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
    json_checked = 0
    for name in JSON_FILES:
        full = os.path.join(directory, name)
        if os.path.isfile(full):
            _doc, problem = load_json_file(full, name)
            json_checked += 1
            if problem:
                problems.append(problem)
    shards_checked = 0
    index_path = os.path.join(directory, INDEX)
    shard_names = []
    in_index = set()
    if os.path.isfile(index_path):
        index, problem = load_json_file(index_path, INDEX)
        weight_map = index.get("weight_map") if index is not None else None
        if problem:
            problems.append(problem)
        elif not isinstance(weight_map, dict) or not weight_map:
            problems.append(f"{INDEX} has no weight_map object (tensor name -> shard file); it is not a valid safetensors index")
        elif not all(isinstance(v, str) and v for v in weight_map.values()):
            problems.append(f"{INDEX}: weight_map values must be shard file names")
        else:
            by_shard = {}
            for tensor, shard in weight_map.items():
                by_shard.setdefault(shard, []).append(tensor)
            for shard in sorted(by_shard):
                shard_names.append(shard)
                in_index.add(shard)
                full = os.path.join(directory, shard)
                if os.path.normpath(shard).startswith("..") or os.path.isabs(shard):
                    problems.append(f"{INDEX} names shard {shard!r} outside the release")
                    continue
                if not os.path.isfile(full):
                    problems.append(f"{shard}: shard listed in {INDEX} is missing")
                    continue
                header = _check_shard(full, shard, problems)
                if header is None:
                    continue
                missing = [t for t in by_shard[shard] if t not in header]
                if missing:
                    problems.append(f"{shard}: {len(missing)} tensor(s) named in {INDEX} are not in the shard, e.g. {missing[0]}")
                shards_checked += 1
    # every other .safetensors file (a single model.safetensors, shards without an index, adapters)
    for rel in _safetensors_files(directory):
        if rel in in_index:
            continue
        shard_names.append(rel)
        if _check_shard(os.path.join(directory, rel), rel, problems) is not None:
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
            "release {} failed verification, current was not switched: {}{}".format(
                label or os.path.basename(directory.rstrip(os.sep)), "; ".join(problems), "; " + remedy if remedy else ""
            )
        )
    return {
        "json_files_parsed": json_checked,
        "shards_checked": shards_checked,
        "shards": shard_names,
        "checksums_verified": len(targets),
        "files_hashed": hashed,
        "files": len(files),
    }


def _safetensors_files(directory):
    out = []
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames.sort()
        for f in filenames:
            if f.endswith(".safetensors") and PART_MARK not in f:
                out.append(os.path.relpath(os.path.join(dirpath, f), directory).replace(os.sep, "/"))
    return sorted(out)


def _check_shard(full, rel, problems):
    """Header of one shard, or None with the problem appended."""
    try:
        header, want = safetensors_header(full, rel)
    except LlmopsError as err:
        problems.append(str(err))
        return None
    have = os.path.getsize(full)
    if have < want:
        last = max((t for t in header if t != "__metadata__"), key=lambda t: header[t]["data_offsets"][1])
        problems.append(
            f"{rel}: size {have} bytes, but its safetensors header needs {want}: "
            f"the data_offsets of tensor {last!r} end {want - have} bytes past the end of the file (truncated)"
        )
        return None
    if have > want:
        problems.append(f"{rel}: size {have} bytes, but its safetensors header needs {want} ({have - want} trailing bytes: corrupt)")
        return None
    return header
