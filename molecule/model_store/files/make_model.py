#!/usr/bin/env python
"""Write a small, structurally real Hugging Face model directory (config, tokenizer, 2 safetensors shards + index)."""

import json
import os
import struct
import sys


def shard(tensors):
    header = {"__metadata__": {"format": "pt"}}
    off = 0
    for name, nbytes in tensors.items():
        header[name] = {"dtype": "BF16", "shape": [nbytes // 2], "data_offsets": [off, off + nbytes]}
        off += nbytes
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + bytes((i * 7) % 251 for i in range(off))


def main(path):
    os.makedirs(path, exist_ok=True)
    weight_map = {}
    for s in range(2):
        name = "model-%05d-of-00002.safetensors" % (s + 1)
        tensors = {"model.layers.%d.w%d" % (s, t): 65536 for t in range(2)}
        weight_map.update(dict.fromkeys(tensors, name))
        with open(os.path.join(path, name), "wb") as fh:
            fh.write(shard(tensors))
    files = {
        "config.json": {"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "num_attention_heads": 4},
        "tokenizer.json": {"version": "1.0", "model": {"type": "BPE"}},
        "tokenizer_config.json": {"model_max_length": 2048},
        "generation_config.json": {"temperature": 0.6},
        "model.safetensors.index.json": {"metadata": {"total_size": 4 * 65536}, "weight_map": weight_map},
    }
    for rel, body in files.items():
        with open(os.path.join(path, rel), "w") as fh:
            json.dump(body, fh)


if __name__ == "__main__":
    main(sys.argv[1])
