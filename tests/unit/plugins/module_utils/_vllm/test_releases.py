# -*- coding: utf-8 -*-
"""vLLM release table: flags and metric names per release, pinned to what the upstream sources show."""

import pytest

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import releases


@pytest.mark.parametrize("text, expected", [
    ("0.33.0", (0, 33, 0)),
    ("v0.11.1", (0, 11, 1)),
    ("0.6.3.post1", (0, 6, 3)),
    ("0.10", (0, 10, 0)),
])
def test_parse_version(text, expected):
    assert releases.parse_version(text) == expected


@pytest.mark.parametrize("text", ["latest", "", "0", "1.x"])
def test_parse_version_rejects(text):
    with pytest.raises(LlmopsError, match="not a vLLM release number"):
        releases.parse_version(text)


def test_supported_range():
    assert releases.check_supported("0.6.0") == (0, 6, 0)
    with pytest.raises(LlmopsError, match="older than the oldest"):
        releases.check_supported("0.5.5")
    with pytest.raises(LlmopsError, match="newer than the newest"):
        releases.check_supported("0.34.0")


def test_image():
    assert releases.image_for("0.33.0") == "vllm/vllm-openai:v0.33.0"
    assert releases.image_for("v0.7.3", "registry.local/vllm") == "registry.local/vllm:v0.7.3"


@pytest.mark.parametrize("flag, version, accepted", [
    # spans as vLLM's own parser of each release registers them (plugins/module_utils/_vllm/flags_data.py)
    ("--num-scheduler-steps", "0.7.3", True),
    ("--num-scheduler-steps", "0.10.0", True),  # still parsed in 0.10.0; gone in 0.10.2
    ("--num-scheduler-steps", "0.10.2", False),
    ("--num-scheduler-steps", "0.33.0", False),
    ("--max-seq-len-to-capture", "0.7.3", True),
    ("--max-seq-len-to-capture", "0.11.0", False),
    ("--guided-decoding-backend", "0.11.2", True),
    ("--guided-decoding-backend", "0.12.0", False),
    ("--structured-outputs-config", "0.10.2", False),
    ("--structured-outputs-config", "0.11.0", True),
    ("--speculative-model", "0.7.3", True),
    ("--speculative-model", "0.8.5", False),
    ("--speculative-config", "0.8.0", False),  # 0.8.0 still has the --speculative-* flags
    ("--speculative-config", "0.8.5", True),
    ("--kv-cache-memory-bytes", "0.10.0", False),
    ("--kv-cache-memory-bytes", "0.10.2", True),
    ("--async-scheduling", "0.9.2", False),
    ("--async-scheduling", "0.33.0", True),
    ("--swap-space", "0.17.1", True),
    ("--swap-space", "0.18.1", False),
    ("--enforce-eager", "0.6.0", True),
    ("--enforce-eager", "0.33.0", True),
    ("--lora-modules", "0.6.0", True),
    # a patch release that is not dumped uses the dumped release of its minor line not newer than it
    ("--kv-cache-memory-bytes", "0.10.1", False),
    ("--kv-cache-memory-bytes", "0.10.3", True),
])
def test_flag_availability(flag, version, accepted):
    assert (flag in releases.accepted_flags(version)) is accepted


def test_lookup_flag_messages():
    with pytest.raises(LlmopsError) as err:
        releases.lookup_flag("--num-scheduler-steps=8", "0.33.0")
    assert "not accepted by vLLM 0.33.0 (multi-step scheduling was removed with the V0 engine)" in str(err.value)
    assert "0.6.0 up to (not including) 0.10.2" in str(err.value)
    with pytest.raises(LlmopsError, match="did you mean --enforce-eager"):
        releases.lookup_flag("--enforce-eagr", "0.33.0")
    with pytest.raises(LlmopsError, match="no --no- form"):
        releases.lookup_flag("--no-disable-log-stats", "0.33.0")  # a store_true switch


def test_no_forms_and_aliases():
    # 0.6.6 registers --enable-prefix-caching as a BooleanOptionalAction; 0.6.0 as store_true
    assert releases.lookup_flag("--no-enable-prefix-caching", "0.6.6")[1] is True
    with pytest.raises(LlmopsError, match="no --no- form"):
        releases.lookup_flag("--no-enable-prefix-caching", "0.6.0")
    # 0.33's EnableDisableAction: --trust-remote-code also has --no-trust-remote-code
    assert releases.lookup_flag("--no-trust-remote-code", "0.33.0") == (releases.FLAGS["--trust-remote-code"]._replace(
        kind="bool"), True)
    assert releases.lookup_flag("-tp", "0.6.0")[0].name == "--tensor-parallel-size"
    assert releases.lookup_flag("-tp", "0.11.0")[0].name == "--tensor-parallel-size"
    assert releases.lookup_flag("-dp", "0.8.5")[0].name == "--data-parallel-size"
    with pytest.raises(LlmopsError, match="short alias exists from 0.8.5"):
        releases.lookup_flag("-dp", "0.8.0")
    assert releases.ALIASES["-tp"] == ("--tensor-parallel-size", "0.6.0")


def test_underscore_spelling_is_vllms_too():
    # FlexibleArgumentParser turns --max_model_len into --max-model-len
    assert releases.lookup_flag("--max_model_len=4096", "0.33.0")[0].name == "--max-model-len"


def test_every_flag_has_a_valid_span():
    for flag in releases.FLAGS.values():
        assert flag.name.startswith("--")
        since = releases.parse_version(flag.since)
        assert since >= releases.parse_version(releases.OLDEST_VERSION), flag
        if flag.until:
            assert releases.parse_version(flag.until) > since, flag
        assert flag.kind in ("value", "multi", "bool", "boolopt"), flag
        assert set(flag.sources) <= {"A07", "A011", "CLI", "LOG", "RN", "PARSER"}, flag


@pytest.mark.parametrize("version, kv_name", [
    ("0.6.6", "vllm:gpu_cache_usage_perc"),
    ("0.8.5", "vllm:gpu_cache_usage_perc"),
    # the published wheels: 0.9.0 and 0.9.1 export only the old name; 0.9.2 adds kv_cache_usage_perc
    ("0.9.1", "vllm:gpu_cache_usage_perc"),
    ("0.9.2", "vllm:kv_cache_usage_perc"),
    ("0.33.0", "vllm:kv_cache_usage_perc"),
])
def test_kv_cache_metric_rename(version, kv_name):
    assert releases.metric_names(version)["kv_cache_usage"] == kv_name


@pytest.mark.parametrize("version, itl, tpot, prefix", [
    ("0.7.2", "vllm:time_per_output_token_seconds", "vllm:time_per_output_token_seconds", None),
    ("0.10.1", "vllm:time_per_output_token_seconds", "vllm:time_per_output_token_seconds", "vllm:prefix_cache_queries_total"),
    ("0.10.2", "vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds", "vllm:prefix_cache_queries_total"),
    ("0.33.0", "vllm:inter_token_latency_seconds", None, "vllm:prefix_cache_queries_total"),
])
def test_latency_and_prefix_cache_names_by_release(version, itl, tpot, prefix):
    names = releases.metric_names(version)
    assert names["inter_token_latency_seconds"] == itl
    assert names.get("time_per_output_token_seconds") == tpot  # removed in 0.15.0
    assert names.get("prefix_cache_queries_total") == prefix
    assert ("prefix_cache_hit_rate" in names) == (prefix is None)  # V0's gauge, or V1's counters


def test_every_metric_has_a_type():
    assert set(releases.METRIC_TYPES) == set(releases.METRICS)


def test_metric_names_current():
    names = releases.metric_names("0.33.0")
    assert names["num_requests_waiting"] == "vllm:num_requests_waiting"
    assert names["num_requests_running"] == "vllm:num_requests_running"
    assert names["request_success_total"] == "vllm:request_success_total"
    assert names["e2e_request_latency_seconds"] == "vllm:e2e_request_latency_seconds"
    assert names["time_to_first_token_seconds"] == "vllm:time_to_first_token_seconds"
    # vllm/engine/metrics.py of the 0.6.4 wheel adds it (V0); V1 has it from 0.7.3
    assert "request_queue_time_seconds" not in releases.metric_names("0.6.3")
    assert releases.metric_names("0.7.3")["request_queue_time_seconds"] == "vllm:request_queue_time_seconds"


def test_kv_cache_dtype_choices():
    assert releases.kv_cache_dtype_choices("0.6.0") == ["auto", "fp8", "fp8_e5m2", "fp8_e4m3"]
    assert "fp8_inc" in releases.kv_cache_dtype_choices("0.33.0")


@pytest.mark.parametrize("version", ["0.4.3", "0.5.4", "0.34.0", "1.0.0"])
def test_sizing_and_deploy_refuse_the_same_releases_with_the_same_message(version):
    """One range for the whole collection (issue 10: sizing said 'older than 0.5', deploy '0.6')."""
    from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing import releases as sizing_releases
    with pytest.raises(LlmopsError) as sized:
        sizing_releases.release(version)
    with pytest.raises(LlmopsError) as deployed:
        releases.check_supported(version)
    assert str(sized.value) == str(deployed.value)
    assert ("older than the oldest release this collection knows (0.6.0)" in str(sized.value)
            or "newer than the newest release this collection knows (0.33.0)" in str(sized.value))


def test_sizing_models_every_release_the_collection_knows():
    from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing import releases as sizing_releases
    for version in ("0.6.0", "0.10.1", "0.33.0", "0.33.2"):
        assert sizing_releases.release(version).version == version
