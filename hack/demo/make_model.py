"""Write a small model directory for the demo: the real config.json of a model, tokenizer files and
safetensors shards with valid headers (tiny synthetic tensors - the KWOK pods of the test bed run no vLLM)."""

import json
import os
import shutil
import struct
import sys


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, (shape, data) in tensors.items():
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))


def main(config_dir, out):
    os.makedirs(out, exist_ok=True)
    shutil.copyfile(os.path.join(config_dir, "config.json"), os.path.join(out, "config.json"))
    with open(os.path.join(out, "generation_config.json"), "w", encoding="utf-8") as fh:
        json.dump({"bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "temperature": 0.6, "top_p": 0.9}, fh)
    with open(os.path.join(out, "tokenizer_config.json"), "w", encoding="utf-8") as fh:
        json.dump({"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "model_max_length": 131072}, fh)
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as fh:
        json.dump({"version": "1.0", "model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": []}}, fh)
    weight_map = {}
    shards = 4
    for i in range(1, shards + 1):
        name = "model-%05d-of-%05d.safetensors" % (i, shards)
        tensors = {"model.layers.%d.mlp.weight" % i: ([64, 64], bytes([i]) * (64 * 64 * 2))}
        write_safetensors(os.path.join(out, name), tensors)
        weight_map.update({t: name for t in tensors})
    total = sum(os.path.getsize(os.path.join(out, f)) for f in set(weight_map.values()))
    with open(os.path.join(out, "model.safetensors.index.json"), "w", encoding="utf-8") as fh:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, fh, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
