#!/usr/bin/env python
"""Benchmark the model store on a generated model directory: thousands of files + large sparse shards.

Prints, with ratios:
  - snapshot time of the store's hard-link tree walk (os.link, ``cp -al`` semantics) against ``cp -al`` itself;
  - re-stage time of an unchanged model (size + mtime quick check, and the ``checksum`` mode that hashes everything);
  - update time when one small file changed (snapshot + one new inode + verify + switch) against the first stage.

Usage: python benchmarks/model_store_bench.py [--files 5000] [--shards 4] [--shard-gib 1] [--repeat 3] [--dir DIR]
Shards are sparse (valid safetensors headers, holes for data): they cost no disk, but hashing reads every byte.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, ".build", "collections"))

from ansible_collections.llmops.vllm_serving.plugins.module_utils._store.fsops import link_tree  # noqa: E402
from ansible_collections.llmops.vllm_serving.plugins.module_utils._store.sources import LocalSource  # noqa: E402
from ansible_collections.llmops.vllm_serving.plugins.module_utils._store.store import ModelStore  # noqa: E402


def generate(path, files, shards, shard_bytes):
    os.makedirs(path)
    weight_map = {}
    for s in range(shards):
        name = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        tensor = f"model.layers.{s}.mlp.weight"
        weight_map[tensor] = name
        header = {tensor: {"dtype": "BF16", "shape": [shard_bytes // 2], "data_offsets": [0, shard_bytes]}}
        raw = json.dumps(header).encode()
        raw += b" " * (-len(raw) % 8)
        with open(os.path.join(path, name), "wb") as fh:
            fh.write(struct.pack("<Q", len(raw)) + raw)
            fh.truncate(8 + len(raw) + shard_bytes)  # sparse: a hole for the tensor data
    meta = {
        "config.json": {"architectures": ["LlamaForCausalLM"], "hidden_size": 4096},
        "tokenizer.json": {"version": "1.0"},
        "tokenizer_config.json": {},
        "model.safetensors.index.json": {"metadata": {"total_size": shards * shard_bytes}, "weight_map": weight_map},
    }
    for rel, body in meta.items():
        with open(os.path.join(path, rel), "w") as fh:
            json.dump(body, fh)
    for i in range(files):
        sub = os.path.join(path, "extra", f"d{i // 500:03d}")
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, f"f{i:05d}.json"), "w") as fh:
            fh.write('{"i": %d}\n' % i)


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def drop(path):
    if os.path.exists(path):
        subprocess.run(["chmod", "-R", "u+w", path], check=True)
        shutil.rmtree(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=5000)
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--shard-gib", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", default=None, help="work directory (default: a temp dir, removed afterwards)")
    args = ap.parse_args()
    work = args.dir or tempfile.mkdtemp(prefix="llmops-store-bench-")
    os.makedirs(work, exist_ok=True)
    src, root = os.path.join(work, "src"), os.path.join(work, "store")
    os.makedirs(root, exist_ok=True)
    shard_bytes = int(args.shard_gib * 2**30)
    try:
        generate(src, args.files, args.shards, shard_bytes)
        n_files = sum(len(f) for _d, _s, f in os.walk(src))
        logical = sum(os.path.getsize(os.path.join(d, f)) for d, _s, fs in os.walk(src) for f in fs)
        print(f"model: {n_files} files, {logical / 2**30:.2f} GiB logical ({args.shards} sparse shards of {args.shard_gib:g} GiB), on {work}")
        store = ModelStore(root, "bench")
        t_first, first = timed(lambda: store.stage(LocalSource(src), keep=0))
        cur = first["path"]

        ours, theirs = [], []
        for i in range(args.repeat):
            a, b = os.path.join(work, f"snap-ours-{i}"), os.path.join(work, f"snap-cp-{i}")
            ours.append(timed(lambda a=a: link_tree(cur, a))[0])
            theirs.append(timed(lambda b=b: subprocess.run(["cp", "-al", cur, b], check=True))[0])
            drop(a)
            drop(b)
        t_ours, t_cp = statistics.median(ours), statistics.median(theirs)

        quick = [timed(lambda: store.stage(LocalSource(src), keep=0))[0] for _i in range(args.repeat)]
        t_quick = statistics.median(quick)
        t_hash, res_hash = timed(lambda: store.stage(LocalSource(src), checksum=True, keep=0))
        assert res_hash["changed"] is False

        with open(os.path.join(src, "config.json"), "w") as fh:
            json.dump({"architectures": ["LlamaForCausalLM"], "hidden_size": 4096, "rope_theta": 500000.0}, fh)
        t_update, upd = timed(lambda: store.stage(LocalSource(src), keep=0))
        assert upd["changed"] and upd["files_fetched"] == 1

        rows = [
            ("first stage (copy + sha256 of everything)", t_first, None),
            ("snapshot: store link_tree (os.link walk)", t_ours, None),
            ("snapshot: cp -al", t_cp, None),
            ("re-stage unchanged (size+mtime quick check)", t_quick, None),
            ("re-stage unchanged (checksum=true, hash all)", t_hash, None),
            ("update 1 small file (snapshot+fetch+verify+switch)", t_update, None),
        ]
        print(f"{'step':54s} {'seconds':>9s}")
        for name, sec, _extra in rows:
            print(f"{name:54s} {sec:9.3f}")
        print("ratios:")
        print(f"  link_tree / cp -al                      = {t_ours / t_cp:6.2f}  (median of {args.repeat})")
        print(f"  unchanged re-stage / first stage        = {t_quick / t_first:6.3f}")
        print(f"  unchanged re-stage / checksum re-stage  = {t_quick / t_hash:6.3f}")
        print(f"  update one file / first stage           = {t_update / t_first:6.3f}")
        print(f"  per-file snapshot cost: ours {t_ours / n_files * 1e6:.1f} us, cp -al {t_cp / n_files * 1e6:.1f} us")
    finally:
        if not args.dir:
            drop(work)


if __name__ == "__main__":
    main()
