"""Helpers for the model store tests: real model directories and tree checksums."""

from __future__ import annotations

import hashlib
import json
import os
import struct


def safetensors_bytes(tensors):
    """A valid safetensors file: {name: nbytes} -> bytes (8-byte LE header length, JSON header, data)."""
    header = {"__metadata__": {"format": "pt"}}
    off = 0
    for name, nbytes in tensors.items():
        header[name] = {"dtype": "BF16", "shape": [nbytes // 2], "data_offsets": [off, off + nbytes]}
        off += nbytes
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    data = bytes((i * 7 + len(tensors)) % 251 for i in range(off))
    return struct.pack("<Q", len(raw)) + raw + data


def make_model(path, shards=2, tensors_per_shard=2, tensor_bytes=4096, extra=None):
    """Write a small but structurally real HF model directory."""
    os.makedirs(path, exist_ok=True)
    weight_map = {}
    for s in range(shards):
        shard = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        tensors = {f"model.layers.{s}.w{t}": tensor_bytes for t in range(tensors_per_shard)}
        weight_map.update({n: shard for n in tensors})
        with open(os.path.join(path, shard), "wb") as fh:
            fh.write(safetensors_bytes(tensors))
    files = {
        "config.json": json.dumps({"architectures": ["LlamaForCausalLM"], "hidden_size": 64}),
        "tokenizer.json": json.dumps({"version": "1.0", "model": {"type": "BPE"}}),
        "tokenizer_config.json": json.dumps({"model_max_length": 4096}),
        "generation_config.json": json.dumps({"temperature": 0.6}),
        "model.safetensors.index.json": json.dumps({"metadata": {"total_size": shards * tensors_per_shard * tensor_bytes}, "weight_map": weight_map}),
    }
    files.update(extra or {})
    for rel, body in files.items():
        full = os.path.join(path, rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as fh:
            fh.write(body.encode() if isinstance(body, str) else body)
    return path


def tree_sha256(top):
    """{relpath: sha256} of every regular file under top (the release record included)."""
    out = {}
    for dirpath, _d, files in os.walk(top):
        for f in files:
            full = os.path.join(dirpath, f)
            with open(full, "rb") as fh:
                out[os.path.relpath(full, top)] = hashlib.sha256(fh.read()).hexdigest()
    return out
