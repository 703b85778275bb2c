"""Issue 14 item 3: a release is parsed (config.json, the safetensors index, every shard header) before ``current`` switches.

Each case stages a good release first, then a damaged source, and asserts on the disk: ``current`` still names the
good release, no second release directory, no staging left that a later run could take as complete.
"""

from __future__ import annotations

import json
import os
import re
import struct

import pytest
from store_helpers import make_model, safetensors_bytes, tree_sha256

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._store.sources import LocalSource
from ansible_collections.llmops.vllm_serving.plugins.module_utils._store.store import ModelStore
from ansible_collections.llmops.vllm_serving.plugins.module_utils._store.verify import load_json_file, safetensors_header, verify_release

SHARD2 = "model-00002-of-00002.safetensors"
INDEX = "model.safetensors.index.json"
CONFIG = '{\n  "architectures": ["LlamaForCausalLM"],\n  "hidden_size": 64,\n  "num_attention_heads": 4\n}\n'


def _write(path, body):
    with open(path, "wb") as fh:
        fh.write(body if isinstance(body, bytes) else body.encode())


def _truncate_to(path, n):
    with open(path, "r+b") as fh:
        fh.truncate(n)


def _shard_header_len(path):
    with open(path, "rb") as fh:
        return struct.unpack("<Q", fh.read(8))[0]


def _set_offsets(path, tensor, begin, end):
    """Rewrite a shard's header so that ``tensor`` claims other data_offsets (same header length, padded)."""
    with open(path, "rb") as fh:
        raw = fh.read()
    hlen = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + hlen])
    header[tensor]["data_offsets"] = [begin, end]
    body = json.dumps(header).encode()
    assert len(body) <= hlen
    body += b" " * (hlen - len(body))
    _write(path, raw[:8] + body + raw[8 + hlen :])


# (how the source is damaged, a regex the message must match)
DAMAGE = [
    pytest.param(
        lambda d: _write(os.path.join(d, "config.json"), CONFIG[:60]),
        r"config\.json is not valid JSON: .* line 3 column \d+ \(char \d+ of \d+: truncated\?\)",
        id="config-truncated",
    ),
    pytest.param(
        lambda d: _write(os.path.join(d, "config.json"), CONFIG.replace('"hidden_size"', '"hidden_size" 64,')),
        r"config\.json is not valid JSON: Expecting ':' delimiter: line 3",
        id="config-garbled",
    ),
    pytest.param(lambda d: _write(os.path.join(d, "config.json"), ""), r"config\.json is empty \(0 bytes\)", id="config-empty"),
    pytest.param(
        lambda d: _write(os.path.join(d, "config.json"), '["LlamaForCausalLM"]'), r"config\.json holds a JSON list, not the JSON object", id="config-not-object"
    ),
    pytest.param(
        lambda d: _write(os.path.join(d, "generation_config.json"), '{"temperature": 0.'),
        r"generation_config\.json is not valid JSON: .*truncated\?",
        id="generation-config-truncated",
    ),
    pytest.param(lambda d: _truncate_to(os.path.join(d, INDEX), 40), r"model\.safetensors\.index\.json is not valid JSON: .*truncated\?", id="index-truncated"),
    pytest.param(
        lambda d: _write(os.path.join(d, INDEX), '{"metadata": {}}'), r"model\.safetensors\.index\.json has no weight_map object", id="index-no-weight-map"
    ),
    pytest.param(
        lambda d: os.unlink(os.path.join(d, SHARD2)), SHARD2 + r": shard listed in model\.safetensors\.index\.json is missing", id="index-shard-missing"
    ),
    pytest.param(lambda d: _truncate_to(os.path.join(d, SHARD2), 5), SHARD2 + r": 5 bytes, too short for a safetensors header", id="shard-5-bytes"),
    pytest.param(
        lambda d: _truncate_to(os.path.join(d, SHARD2), 8 + _shard_header_len(os.path.join(d, SHARD2)) // 2),
        SHARD2 + r": header length \d+ does not fit the file's \d+ bytes",
        id="shard-cut-in-header",
    ),
    pytest.param(
        lambda d: _truncate_to(os.path.join(d, SHARD2), 8 + _shard_header_len(os.path.join(d, SHARD2)) + 5000),
        SHARD2 + r": size \d+ bytes, but its safetensors header needs \d+: the data_offsets of tensor 'model\.layers\.1\.w1' end 3192 bytes past",
        id="shard-cut-in-data",
    ),
    pytest.param(
        lambda d: _set_offsets(os.path.join(d, SHARD2), "model.layers.1.w0", 4096, 10),
        SHARD2 + r": tensor 'model\.layers\.1\.w0' has data_offsets \[4096, 10\], not 0 <= begin <= end",
        id="shard-offsets-reversed",
    ),
    pytest.param(
        lambda d: _set_offsets(os.path.join(d, SHARD2), "model.layers.1.w1", 4096, 99999),
        SHARD2 + r": size \d+ bytes, but its safetensors header needs \d+: the data_offsets of tensor 'model\.layers\.1\.w1' end",
        id="shard-offsets-beyond",
    ),
    pytest.param(
        lambda d: _write(os.path.join(d, "adapter.safetensors"), safetensors_bytes({"lora.a": 1024})[:-10]),
        r"adapter\.safetensors: size \d+ bytes, but its safetensors header needs",
        id="shard-not-in-index",
    ),
]


@pytest.mark.parametrize(("damage", "expect"), DAMAGE)
def test_damaged_source_never_switches_current_and_leaves_nothing_half_published(tmp_path, store_root, damage, expect):
    src = make_model(str(tmp_path / "src"), extra={"config.json": CONFIG})
    store = ModelStore(store_root, "m1")
    good = store.stage(LocalSource(src))
    before = tree_sha256(good["path"])
    damage(src)
    with pytest.raises(LlmopsError) as err:
        store.stage(LocalSource(src))
    msg = str(err.value)
    assert re.search(expect, msg), msg
    assert msg.startswith("release ") and "failed verification, current was not switched" in msg
    assert "re-stage from a complete source" in msg and src in msg and "current still points to " + good["release"] in msg
    # on disk: current is the good release, untouched; nothing else a later run or a rollback could pick up
    assert os.readlink(os.path.join(store_root, "m1", "current")) == "releases/" + good["release"]
    assert store.releases() == [good["release"]]
    assert tree_sha256(good["path"]) == before
    assert sorted(os.listdir(os.path.join(store_root, "m1"))) == ["current", "releases"]


def test_truncated_config_on_a_first_stage_publishes_nothing(tmp_path, store_root):
    src = make_model(str(tmp_path / "src"), extra={"config.json": CONFIG[:50]})
    with pytest.raises(LlmopsError, match=r"config\.json is not valid JSON: .*truncated\?\).*current still points to nothing"):
        ModelStore(store_root, "m1").stage(LocalSource(src))
    assert os.listdir(os.path.join(store_root, "m1")) == []


def test_after_the_source_is_repaired_the_next_run_stages_afresh_and_switches(tmp_path, store_root):
    src = make_model(str(tmp_path / "src"), extra={"config.json": CONFIG})
    store = ModelStore(store_root, "m1")
    good = store.stage(LocalSource(src))
    new_config = CONFIG.replace('"hidden_size": 64', '"hidden_size": 128')
    _write(os.path.join(src, "config.json"), new_config[:45])
    with pytest.raises(LlmopsError, match="config.json is not valid JSON"):
        store.stage(LocalSource(src))
    _write(os.path.join(src, "config.json"), new_config)
    res = store.stage(LocalSource(src))
    assert res["resumed"] is False and res["staging_discarded"] is False
    assert res["changed_files"] == ["config.json"] and res["files_fetched"] == 1
    assert res["verification"]["json_files_parsed"] == 4 and res["verification"]["shards_checked"] == 2
    assert store.current() == res["release"] != good["release"]
    with open(os.path.join(store_root, "m1", "current", "config.json")) as fh:
        assert json.load(fh)["hidden_size"] == 128


def test_rollback_to_a_release_whose_config_was_damaged_is_refused(tmp_path, store_root):
    src = make_model(str(tmp_path / "src"), extra={"config.json": CONFIG})
    store = ModelStore(store_root, "m1")
    first = store.stage(LocalSource(src))
    _write(os.path.join(src, "generation_config.json"), '{"temperature": 0.1}')
    second = store.stage(LocalSource(src))
    victim = os.path.join(first["path"], "config.json")
    os.chmod(first["path"], 0o755)
    os.unlink(victim)  # a same-size garbling, so only the parse can tell
    _write(victim, CONFIG.replace("{", "[", 1))
    with pytest.raises(LlmopsError) as err:
        store.rollback("previous")
    msg = str(err.value)
    assert "release {} failed verification".format(first["release"]) in msg and "config.json is not valid JSON" in msg
    assert "roll back to another release ({})".format(second["release"]) in msg
    assert store.current() == second["release"]


def test_load_json_file_and_header_messages(tmp_path):
    p = str(tmp_path / "config.json")
    _write(p, '{\n "a": 1,\n "b": 2\n "c": 3}')
    assert load_json_file(p) == (None, "config.json is not valid JSON: Expecting ',' delimiter: line 4 column 2 (char 20)")
    _write(p, b"\xff\xfe{}")
    assert load_json_file(p)[1].startswith("config.json is not valid JSON: not UTF-8")
    _write(p, '{"a": [1, 2]}')
    assert load_json_file(p) == ({"a": [1, 2]}, None)
    shard = str(tmp_path / "x.safetensors")
    _write(shard, struct.pack("<Q", 10) + b'{"t": 1}  ')
    with pytest.raises(LlmopsError, match=r"x.safetensors: tensor 't' has no valid data_offsets"):
        safetensors_header(shard, "x.safetensors")
    _write(shard, struct.pack("<Q", 10) + b"[1, 2, 3] ")
    with pytest.raises(LlmopsError, match=r"header is JSON but not an object"):
        safetensors_header(shard, "x.safetensors")


def test_verify_release_counts_what_it_parsed(tmp_path):
    src = make_model(str(tmp_path / "src"), extra={"model.safetensors": safetensors_bytes({"extra.w": 512})})
    summary = verify_release(src)
    assert summary["json_files_parsed"] == 4
    assert summary["shards"] == ["model-00001-of-00002.safetensors", SHARD2, "model.safetensors"] and summary["shards_checked"] == 3
