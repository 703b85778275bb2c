# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What each vLLM release accepts on ``vllm serve`` and which Prometheus metrics it exports.

Every entry records the first release that has it (``since``), the first release that no longer
has it (``until``, exclusive; ``None`` = still present in the newest release known here) and the
upstream sources it was checked against.  Source keys (read through the project's code search,
see docs/vllm_deploy.md "Where the release table comes from"):

- ``A07``  vllm/engine/arg_utils.py at commit 001999d2 (0.7.x line: EngineArgs dataclass + add_cli_args)
- ``A011`` vllm/engine/arg_utils.py at commit 99d7eb5d (0.11.x line: config-dataclass generated flags)
- ``CLI``  vllm/entrypoints/openai/cli_args.py at commit 00522333 (current frontend arguments)
- ``LOG``  vllm/v1/metrics/loggers.py at commit 005a810b (V1 Prometheus logger, 0.10.x line)
- ``RN``   release notes / changelog knowledge only: not confirmed against source here.

Flags with ``RN`` as their only source, and every ``since``/``until`` boundary that falls between two
confirmed snapshots, are best knowledge, not proof; docs/vllm_deploy.md lists them.
"""

from __future__ import annotations

import difflib
import re
from collections import namedtuple

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError

DEFAULT_VERSION = "0.33.0"
OLDEST_VERSION = "0.6.0"
IMAGE_REPOSITORY = "vllm/vllm-openai"

_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[.+-]?(?:post|rc|dev)\d*.*)?$")


def parse_version(text):
    """``'0.11.1'``, ``'v0.7.3'``, ``'0.6.3.post1'`` -> ``(0, 11, 1)``; anything else -> LlmopsError."""
    match = _VERSION_RE.match(str(text).strip())
    if not match:
        raise LlmopsError(
            "vllm_version=%r is not a vLLM release number; use the form MAJOR.MINOR.PATCH, e.g. %s"
            % (text, DEFAULT_VERSION)
        )
    return tuple(int(part or 0) for part in match.groups())


def version_string(version):
    return ".".join(str(part) for part in version)


def check_supported(text):
    """Parse and range-check a release; returns the tuple."""
    version = parse_version(text)
    if version < parse_version(OLDEST_VERSION):
        raise LlmopsError(
            "vllm_version=%s is older than the oldest release this collection knows (%s); "
            "use %s or newer (default %s)" % (text, OLDEST_VERSION, OLDEST_VERSION, DEFAULT_VERSION)
        )
    if version[:2] > parse_version(DEFAULT_VERSION)[:2]:
        raise LlmopsError(
            "vllm_version=%s is newer than the newest release this collection knows (%s); its flags and "
            "metric names cannot be checked. Use %s or update plugins/module_utils/_vllm/releases.py"
            % (text, DEFAULT_VERSION, DEFAULT_VERSION)
        )
    return version


def image_for(version_text, repository=IMAGE_REPOSITORY):
    """The official OpenAI-server image of a release: ``vllm/vllm-openai:v0.33.0``."""
    return "%s:v%s" % (repository, version_string(parse_version(version_text)))


# kind: "value" takes one argument, "multi" one or more, "bool" is a store_true switch,
# "boolopt" is argparse.BooleanOptionalAction (also accepts --no-<flag>).
Flag = namedtuple("Flag", "name since until kind sources note")


def _f(name, since="0.6.0", until=None, kind="value", sources=("RN",), note=""):
    return Flag(name, since, until, kind, tuple(sources), note)


_A07 = ("A07",)
_A011 = ("A011",)
_BOTH = ("A07", "A011")
_CLI = ("CLI",)

FLAGS = {
    flag.name: flag
    for flag in [
        # --- model ---
        _f("--model", sources=_BOTH, note="positional MODEL on `vllm serve`"),
        _f("--served-model-name", kind="multi", sources=("A07", "A011")),
        _f("--tokenizer", sources=_BOTH),
        _f("--tokenizer-mode", sources=_BOTH),
        _f("--revision", sources=_BOTH),
        _f("--code-revision", sources=_BOTH),
        _f("--tokenizer-revision", sources=_BOTH),
        _f("--trust-remote-code", kind="bool", sources=_BOTH),
        _f("--download-dir", sources=_BOTH),
        _f("--load-format", sources=_BOTH),
        _f("--config-format", sources=_BOTH),
        _f("--dtype", sources=_BOTH),
        _f("--seed", sources=_BOTH),
        _f("--max-model-len", sources=_BOTH),
        _f("--quantization", sources=_BOTH),
        _f("--enforce-eager", kind="bool", sources=_BOTH),
        _f("--max-logprobs", sources=_BOTH),
        _f("--disable-sliding-window", kind="bool", sources=_BOTH),
        _f("--skip-tokenizer-init", kind="bool", sources=_BOTH),
        _f("--rope-scaling", sources=_BOTH),
        _f("--rope-theta", sources=_BOTH),
        _f("--hf-overrides", since="0.7.0", sources=_BOTH),
        _f("--allowed-local-media-path", since="0.6.3", sources=_BOTH),
        _f("--task", sources=_BOTH, note="deprecated since 0.11 in favour of --runner/--convert"),
        _f("--runner", since="0.10.0", sources=_A011),
        _f("--convert", since="0.10.0", sources=_A011),
        _f("--generation-config", since="0.7.0", sources=_BOTH),
        _f("--override-generation-config", since="0.7.0", sources=_BOTH),
        _f("--enable-sleep-mode", since="0.7.3", kind="bool", sources=_BOTH),
        _f("--model-impl", since="0.7.3", sources=_BOTH),
        _f("--hf-token", since="0.10.0", sources=_A011, note="prefer the HF_TOKEN environment variable"),
        _f("--hf-config-path", since="0.9.0", sources=_A011),
        _f("--max-seq-len-to-capture", until="0.11.0", sources=_A07,
           note="absent from the 0.11 EngineArgs; use --max-cudagraph-capture-size"),
        _f("--logits-processor-pattern", since="0.7.0", sources=_BOTH),
        _f("--logits-processors", since="0.11.0", kind="multi", sources=_A011),
        _f("--disable-cascade-attn", since="0.8.0", kind="boolopt", sources=_A011),
        _f("--enable-prompt-embeds", since="0.9.0", kind="boolopt", sources=_A011),
        # --- load ---
        _f("--ignore-patterns", sources=_BOTH),
        _f("--model-loader-extra-config", sources=_BOTH),
        _f("--safetensors-load-strategy", since="0.11.0", sources=_A011),
        _f("--use-tqdm-on-load", since="0.8.0", kind="boolopt", sources=_A011),
        # --- parallel ---
        _f("--tensor-parallel-size", sources=_BOTH),
        _f("--pipeline-parallel-size", sources=_BOTH),
        _f("--data-parallel-size", since="0.8.0", sources=_A011),
        _f("--enable-expert-parallel", since="0.8.0", kind="boolopt", sources=_A011),
        _f("--distributed-executor-backend", sources=_BOTH),
        _f("--max-parallel-loading-workers", sources=_BOTH),
        _f("--disable-custom-all-reduce", kind="boolopt", sources=_BOTH),
        _f("--worker-cls", since="0.7.0", sources=_BOTH),
        _f("--enable-eplb", since="0.10.0", kind="boolopt", sources=_A011),
        _f("--decode-context-parallel-size", since="0.11.0", sources=_A011),
        # --- cache ---
        _f("--block-size", sources=_BOTH),
        _f("--gpu-memory-utilization", sources=_BOTH),
        _f("--kv-cache-memory-bytes", since="0.11.0", sources=_A011),
        _f("--swap-space", sources=_BOTH),
        _f("--kv-cache-dtype", sources=_BOTH),
        _f("--num-gpu-blocks-override", sources=_BOTH),
        _f("--enable-prefix-caching", kind="boolopt", sources=_BOTH),
        _f("--prefix-caching-hash-algo", since="0.9.0", sources=_A011),
        _f("--cpu-offload-gb", sources=_BOTH),
        _f("--calculate-kv-scales", since="0.7.2", kind="boolopt", sources=_BOTH),
        _f("--use-v2-block-manager", until="0.8.0", kind="bool", sources=_A07,
           note="no-op since 0.6 (v2 is the only block manager), removed with the V0 cleanup"),
        # --- multimodal ---
        _f("--limit-mm-per-prompt", sources=_BOTH),
        _f("--mm-processor-kwargs", sources=_BOTH),
        _f("--disable-mm-preprocessor-cache", since="0.7.0", kind="bool", sources=_BOTH,
           note="deprecated since 0.11; use --mm-processor-cache-gb 0"),
        _f("--mm-processor-cache-gb", since="0.10.0", sources=_A011),
        # --- LoRA ---
        _f("--enable-lora", kind="boolopt", sources=_BOTH),
        _f("--max-loras", sources=_BOTH),
        _f("--max-lora-rank", sources=_BOTH),
        _f("--lora-extra-vocab-size", sources=_BOTH),
        _f("--lora-dtype", sources=_BOTH),
        _f("--max-cpu-loras", sources=_BOTH),
        _f("--fully-sharded-loras", kind="boolopt", sources=_BOTH),
        _f("--enable-lora-bias", since="0.6.3", until="0.10.0", kind="bool", sources=_A07),
        _f("--long-lora-scaling-factors", until="0.10.0", sources=_A07),
        _f("--enable-prompt-adapter", until="0.10.0", kind="bool", sources=_A07),
        _f("--max-prompt-adapters", until="0.10.0", sources=_A07),
        # --- scheduler ---
        _f("--max-num-batched-tokens", sources=_BOTH),
        _f("--max-num-seqs", sources=_BOTH),
        _f("--max-num-partial-prefills", since="0.8.0", sources=_A011),
        _f("--long-prefill-token-threshold", since="0.8.0", sources=_A011),
        _f("--num-lookahead-slots", sources=_BOTH),
        _f("--scheduling-policy", sources=_BOTH),
        _f("--enable-chunked-prefill", kind="boolopt", sources=_BOTH),
        _f("--async-scheduling", since="0.10.0", kind="boolopt", sources=_A011),
        _f("--num-scheduler-steps", until="0.10.0", sources=_A07,
           note="multi-step scheduling was removed with the V0 engine"),
        _f("--multi-step-stream-outputs", until="0.10.0", kind="boolopt", sources=_A07),
        _f("--scheduler-delay-factor", until="0.10.0", sources=_A07),
        _f("--preemption-mode", until="0.10.0", sources=_A07, note="V0-only"),
        _f("--disable-async-output-proc", until="0.10.0", kind="bool", sources=_A07),
        _f("--tokenizer-pool-size", until="0.9.0", sources=_A07),
        _f("--tokenizer-pool-type", until="0.9.0", sources=_A07),
        _f("--device", until="0.10.0", sources=_A07),
        # --- speculative decoding ---
        _f("--speculative-model", until="0.9.0", sources=_A07, note="replaced by --speculative-config"),
        _f("--num-speculative-tokens", until="0.9.0", sources=_A07, note="replaced by --speculative-config"),
        _f("--ngram-prompt-lookup-max", until="0.9.0", sources=_A07),
        _f("--speculative-config", since="0.8.0", sources=_A011),
        # --- structured output / reasoning / tools ---
        _f("--guided-decoding-backend", until="0.12.0", sources=_BOTH,
           note="deprecated in 0.11, removed in 0.12 (per its 0.11 help text); use --structured-outputs-config"),
        _f("--structured-outputs-config", since="0.11.0", sources=_A011),
        _f("--reasoning-parser", since="0.7.1", sources=_A011),
        _f("--enable-reasoning", since="0.7.1", until="0.10.0", kind="bool", note="reasoning is on when --reasoning-parser is set"),
        _f("--enable-auto-tool-choice", kind="bool", sources=_CLI),
        _f("--tool-call-parser", sources=_CLI),
        _f("--tool-parser-plugin", since="0.6.4", sources=_CLI),
        _f("--chat-template", sources=_CLI),
        _f("--chat-template-content-format", since="0.6.4", sources=_CLI),
        _f("--response-role", sources=_CLI),
        _f("--return-tokens-as-token-ids", kind="bool", sources=_CLI),
        _f("--enable-prompt-tokens-details", since="0.6.4", kind="bool", sources=_CLI),
        _f("--enable-force-include-usage", since="0.10.0", kind="bool", sources=_CLI),
        # --- compilation / graphs ---
        _f("--compilation-config", since="0.6.4", sources=_BOTH),
        _f("--cuda-graph-sizes", since="0.9.0", until="0.13.0", kind="multi", sources=_A011,
           note="deprecated in 0.11 (help text: removed in 0.13); use --cudagraph-capture-sizes"),
        _f("--cudagraph-capture-sizes", since="0.11.0", kind="multi", sources=_A011),
        _f("--max-cudagraph-capture-size", since="0.11.0", sources=_A011),
        # --- KV transfer / events ---
        _f("--kv-transfer-config", since="0.7.0", sources=_BOTH),
        _f("--kv-events-config", since="0.9.0", sources=_A011),
        _f("--additional-config", since="0.8.0", sources=_A011),
        # --- observability ---
        _f("--disable-log-stats", kind="bool", sources=_BOTH),
        _f("--disable-log-requests", until="0.12.0", kind="bool",
           note="replaced by --enable-log-requests in 0.10.2, removed later"),
        _f("--enable-log-requests", since="0.10.2", kind="bool", note="see --enable-log-outputs in CLI"),
        _f("--enable-log-outputs", since="0.10.0", kind="bool", sources=_CLI),
        _f("--max-log-len", sources=_CLI),
        _f("--otlp-traces-endpoint", sources=_BOTH),
        _f("--collect-detailed-traces", sources=_BOTH),
        _f("--show-hidden-metrics-for-version", since="0.7.3", sources=_A011),
        # --- frontend (entrypoints/openai/cli_args.py) ---
        _f("--host", sources=_CLI),
        _f("--port", sources=_CLI),
        _f("--uds", since="0.9.0", sources=_CLI),
        _f("--uvicorn-log-level", sources=_CLI),
        _f("--disable-uvicorn-access-log", since="0.7.0", kind="bool", sources=_CLI),
        _f("--allow-credentials", kind="bool", sources=_CLI),
        _f("--allowed-origins", sources=_CLI),
        _f("--allowed-methods", sources=_CLI),
        _f("--allowed-headers", sources=_CLI),
        _f("--api-key", sources=_CLI, note="secret: the role passes it as VLLM_API_KEY from a Secret"),
        _f("--lora-modules", kind="multi", sources=_CLI),
        _f("--ssl-keyfile", sources=_CLI),
        _f("--ssl-certfile", sources=_CLI),
        _f("--ssl-ca-certs", sources=_CLI),
        _f("--ssl-cert-reqs", sources=_CLI),
        _f("--root-path", sources=_CLI),
        _f("--middleware", sources=_CLI),
        _f("--enable-request-id-headers", since="0.6.4", kind="bool", sources=_CLI),
        _f("--disable-fastapi-docs", since="0.7.0", kind="bool", sources=_CLI),
        _f("--disable-frontend-multiprocessing", kind="bool"),
        _f("--enable-server-load-tracking", since="0.8.0", kind="bool", sources=_CLI),
        _f("--log-config-file", since="0.11.0", sources=_CLI),
    ]
}

# Short aliases argparse registers for some flags (A011: -tp, -pp, -dp, -q, -O).
ALIASES = {
    "-tp": ("--tensor-parallel-size", "0.9.0"),
    "-pp": ("--pipeline-parallel-size", "0.9.0"),
    "-dp": ("--data-parallel-size", "0.9.0"),
    "-q": ("--quantization", "0.6.0"),
    "-O": ("--compilation-config", "0.6.4"),
}

# Value choices that differ between releases.  dtype choices: A07 and A011 (ModelDType) agree.
DTYPE_CHOICES = ("auto", "half", "float16", "bfloat16", "float", "float32")
# kv-cache-dtype: A07 lists auto/fp8/fp8_e5m2/fp8_e4m3; later CacheDType adds fp8_inc (0.9, RN) and
# fp8_ds_mla / bfloat16 (0.11, RN).
_KV_CACHE_DTYPES = [
    ("auto", "0.6.0"), ("fp8", "0.6.0"), ("fp8_e5m2", "0.6.0"), ("fp8_e4m3", "0.6.0"),
    ("fp8_inc", "0.9.0"), ("bfloat16", "0.11.0"), ("fp8_ds_mla", "0.11.0"),
]


def kv_cache_dtype_choices(version_text):
    version = parse_version(version_text)
    return [name for name, since in _KV_CACHE_DTYPES if parse_version(since) <= version]


# The ``--no-<flag>`` form of a "boolopt" flag: 0.7 registered these as store_true switches; the
# config-generated parser (BooleanOptionalAction) adds the negative form.  --enable-prefix-caching got
# BooleanOptionalAction first (V1 turned prefix caching on by default).  Boundaries: RN.
NO_FORM_SINCE = {"--enable-prefix-caching": "0.7.0"}
NO_FORM_DEFAULT_SINCE = "0.9.0"


def no_form_available(flag, version):
    if flag.kind != "boolopt":
        return False
    since = NO_FORM_SINCE.get(flag.name, max(flag.since, NO_FORM_DEFAULT_SINCE, key=parse_version))
    return version >= parse_version(since)


def flag_available(flag, version):
    """True when ``flag`` (a Flag) exists in release tuple ``version``."""
    if version < parse_version(flag.since):
        return False
    return flag.until is None or version < parse_version(flag.until)


def accepted_flags(version_text):
    """Sorted list of the long flags ``vllm serve`` accepts in a release (``--no-X`` forms included)."""
    version = parse_version(version_text)
    names = []
    for flag in FLAGS.values():
        if flag_available(flag, version):
            names.append(flag.name)
            if no_form_available(flag, version):
                names.append("--no-" + flag.name[2:])
    return sorted(names)


def _span(flag):
    if flag.until is None:
        return "%s and later" % flag.since
    return "%s up to (not including) %s" % (flag.since, flag.until)


def lookup_flag(token, version_text):
    """Resolve a command-line token (``--x``, ``--x=v``, ``--no-x``, ``-tp``) to its Flag for a release.

    Raises LlmopsError naming the flag, the release, why, and what works instead.
    """
    version = parse_version(version_text)
    name = token.split("=", 1)[0]
    negated = False
    if name in ALIASES:
        target, since = ALIASES[name]
        if version < parse_version(since):
            raise LlmopsError(
                "flag %s is not accepted by vLLM %s (the short alias exists from %s); use %s"
                % (name, version_text, since, target)
            )
        name = target
    flag = FLAGS.get(name)
    if flag is None and name.startswith("--no-"):
        flag = FLAGS.get("--" + name[5:])
        negated = flag is not None
    if flag is None:
        close = difflib.get_close_matches(name, accepted_flags(version_text), n=3, cutoff=0.75)
        raise LlmopsError(
            "flag %s is not a `vllm serve` flag known for vLLM %s%s"
            % (name, version_text, "; did you mean %s?" % ", ".join(close) if close else
               "; see `vllm serve --help` of that release, or docs/vllm_deploy.md for the table")
        )
    if negated and not no_form_available(flag, version):
        raise LlmopsError(
            "flag %s is not accepted by vLLM %s: %s has no --no- form in that release; leave it out instead"
            % (name, version_text, flag.name)
        )
    if not flag_available(flag, version):
        note = (" (%s)" % flag.note) if flag.note else ""
        raise LlmopsError(
            "flag %s is not accepted by vLLM %s%s; it exists in releases %s"
            % (name, version_text, note, _span(flag))
        )
    return flag, negated


# ---------------------------------------------------------------- metrics
# Logical name -> list of (exported name, since, until).  Counters carry the `_total` suffix
# prometheus_client adds on exposition (LOG registers "vllm:request_success" -> vllm:request_success_total).
# Spans read from vllm/engine/metrics.py (V0) and vllm/v1/metrics/loggers.py (V1) of the published wheels,
# 0.6.0-0.34.0; where V0 and V1 differ, the engine the release runs by default (V1 from 0.8.0) decides.
METRICS = {
    # gpu_cache_usage_perc: V1 deprecated it in 0.9.2 for kv_cache_usage_perc (hidden 0.11, removed 0.12.0)
    "kv_cache_usage": [("vllm:gpu_cache_usage_perc", "0.6.0", "0.9.2"), ("vllm:kv_cache_usage_perc", "0.9.2", None)],
    "num_requests_waiting": [("vllm:num_requests_waiting", "0.6.0", None)],
    "num_requests_running": [("vllm:num_requests_running", "0.6.0", None)],
    "request_success_total": [("vllm:request_success_total", "0.6.0", None)],
    "e2e_request_latency_seconds": [("vllm:e2e_request_latency_seconds", "0.6.0", None)],
    "time_to_first_token_seconds": [("vllm:time_to_first_token_seconds", "0.6.0", None)],
    # deprecated in 0.10.2 for inter_token_latency_seconds, hidden 0.12.0-0.14.1, removed in 0.15.0
    "time_per_output_token_seconds": [("vllm:time_per_output_token_seconds", "0.6.0", "0.15.0")],
    # the time between output tokens under whichever name the release exports
    "inter_token_latency_seconds": [("vllm:time_per_output_token_seconds", "0.6.0", "0.10.2"),
                                    ("vllm:inter_token_latency_seconds", "0.10.2", None)],
    "num_preemptions_total": [("vllm:num_preemptions_total", "0.6.0", None)],
    "generation_tokens_total": [("vllm:generation_tokens_total", "0.6.0", None)],
    "prompt_tokens_total": [("vllm:prompt_tokens_total", "0.6.0", None)],
    "request_queue_time_seconds": [("vllm:request_queue_time_seconds", "0.6.4", None)],  # V0 0.6.4, V1 0.7.3
    # prefix cache: V0's hit-rate gauge (removed with V0's default in 0.8.0 here; gone from vLLM in 0.9.1), then
    # V1's token counters (gpu_ names 0.7.3-0.9.1, renamed in 0.9.2; old names removed in 0.12.0)
    "prefix_cache_hit_rate": [("vllm:gpu_prefix_cache_hit_rate", "0.6.0", "0.8.0")],
    "prefix_cache_queries_total": [("vllm:gpu_prefix_cache_queries_total", "0.8.0", "0.9.2"),
                                   ("vllm:prefix_cache_queries_total", "0.9.2", None)],
    "prefix_cache_hits_total": [("vllm:gpu_prefix_cache_hits_total", "0.8.0", "0.9.2"),
                                ("vllm:prefix_cache_hits_total", "0.9.2", None)],
    # Not a vLLM metric: prometheus-fastapi-instrumentator on the API server (RN: not read in source here).
    "http_requests_total": [("http_requests_total", "0.6.0", None)],
}

# Metric types, for the checks that a query uses a histogram through its _bucket series and a counter with rate()
METRIC_TYPES = {
    "kv_cache_usage": "gauge", "num_requests_waiting": "gauge", "num_requests_running": "gauge",
    "prefix_cache_hit_rate": "gauge", "request_success_total": "counter", "num_preemptions_total": "counter",
    "generation_tokens_total": "counter", "prompt_tokens_total": "counter", "prefix_cache_queries_total": "counter",
    "prefix_cache_hits_total": "counter", "http_requests_total": "counter",
    "e2e_request_latency_seconds": "histogram", "time_to_first_token_seconds": "histogram",
    "time_per_output_token_seconds": "histogram", "inter_token_latency_seconds": "histogram",
    "request_queue_time_seconds": "histogram",
}


def metric_names(version_text):
    """Logical name -> exported metric name for a release."""
    version = parse_version(version_text)
    names = {}
    for logical, spans in METRICS.items():
        for exported, since, until in spans:
            if parse_version(since) <= version and (until is None or version < parse_version(until)):
                names[logical] = exported
    return names
