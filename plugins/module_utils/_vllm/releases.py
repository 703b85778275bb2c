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
from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import flags_data

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


# kind: "value" takes one argument, "multi" one or more (or an optional one: nargs "?"/"*"/"+"/N, append),
# "bool" a switch that takes no value (store_true, argparse.BooleanOptionalAction, vLLM's EnableDisableAction:
# argparse refuses ``--switch=true`` for all three).  "boolopt" (a BooleanOptionalAction) is no longer
# produced: whether ``--no-<flag>`` exists is read from the parser dump (no_form_available), not the kind.
# sources: ("PARSER",) = flags_data.py, generated from vLLM's own parser by hack/vllm_flags.py.
Flag = namedtuple("Flag", "name since until kind sources note")

# Hand knowledge the parser does not give: why a flag went away, or what to use instead.
NOTES = {
    "--model": "positional MODEL on `vllm serve`",
    "--task": "deprecated since 0.11 in favour of --runner/--convert",
    "--hf-token": "prefer the HF_TOKEN environment variable",
    "--max-seq-len-to-capture": "absent from the 0.11 EngineArgs; use --max-cudagraph-capture-size",
    "--use-v2-block-manager": "no-op since 0.6 (v2 is the only block manager), removed with the V0 cleanup",
    "--disable-mm-preprocessor-cache": "deprecated since 0.11; use --mm-processor-cache-gb 0",
    "--num-scheduler-steps": "multi-step scheduling was removed with the V0 engine",
    "--preemption-mode": "V0-only",
    "--speculative-model": "replaced by --speculative-config",
    "--num-speculative-tokens": "replaced by --speculative-config",
    "--guided-decoding-backend": "deprecated in 0.11, removed in 0.12 (per its 0.11 help text); use --structured-outputs-config",
    "--cuda-graph-sizes": "deprecated in 0.11 (help text: removed in 0.13); use --cudagraph-capture-sizes",
    "--enable-reasoning": "reasoning is on when --reasoning-parser is set",
    "--disable-log-requests": "replaced by --enable-log-requests in 0.10.2",
    "--api-key": "secret: the role passes it as VLLM_API_KEY from a Secret",
}
# Real options that make no sense in a pod (print help and exit): refused as unknown.
_NOT_FOR_SERVING = ("-h", "--help")

# Row layout of flags_data.FLAGS (see its docstring).
_SINCE, _UNTIL, _CANON, _FORM, _NARGS, _TYPE, _CHOICES, _ACTION, _DEPRECATED, _HIDDEN = range(10)
_DUMPED = tuple(parse_version(text) for text in flags_data.RELEASES)
_BY_RELEASE = {}


def _dumped_release(version):
    """The dumped release that stands for ``version``: the newest dumped one of its minor line that is not
    newer than it, else the oldest of that line, else the newest dumped release not newer than it."""
    line = [dumped for dumped in _DUMPED if dumped[:2] == version[:2]]
    if line:
        older = [dumped for dumped in line if dumped <= version]
        return max(older) if older else min(line)
    older = [dumped for dumped in _DUMPED if dumped <= version]
    return max(older) if older else _DUMPED[0]


def _covers(row, version):
    return parse_version(row[_SINCE]) <= version and (row[_UNTIL] is None or version < parse_version(row[_UNTIL]))


def _options(version):
    """Option string -> its flags_data row, for the dumped release standing for ``version``."""
    dumped = _dumped_release(version)
    table = _BY_RELEASE.get(dumped)
    if table is None:
        table = {}
        for option, rows in flags_data.FLAGS.items():
            if option in _NOT_FOR_SERVING:
                continue
            for row in rows:
                if _covers(row, dumped):
                    table[option] = row
                    break
        _BY_RELEASE[dumped] = table
    return table


def _kind(row):
    if row[_FORM] in ("switch", "neg"):
        return "bool"
    nargs = row[_NARGS]
    if nargs in ("?", "*", "+") or (isinstance(nargs, int) and nargs > 1) or row[_ACTION] == "_AppendAction":
        return "multi"
    return "value"


def _spans(option):
    """[(since, until)] of the dumped releases that have ``option``, adjacent rows merged."""
    spans = []
    for row in flags_data.FLAGS.get(option, ()):
        if spans and spans[-1][1] == row[_SINCE]:
            spans[-1] = (spans[-1][0], row[_UNTIL])
        else:
            spans.append((row[_SINCE], row[_UNTIL]))
    return spans


def _make_flag(name, row):
    spans = _spans(name)
    note = NOTES.get(name, "")
    if not note and row[_DEPRECATED]:
        note = "deprecated, see `vllm serve --help=%s`" % name[2:]
    return Flag(name, spans[0][0], spans[-1][1], _kind(row), ("PARSER",), note)


def _newest_row(option):
    rows = flags_data.FLAGS.get(option)
    return rows[-1] if rows else None


# Canonical long flag -> Flag (kind as of the newest release that has it); every option string vLLM's
# parser registers as an action's first long form, in any dumped release.
FLAGS = {}
for _option in sorted(flags_data.FLAGS):
    _row = _newest_row(_option)
    if _option.startswith("--") and _row[_CANON] == _option and _option not in _NOT_FOR_SERVING:
        FLAGS[_option] = _make_flag(_option, _row)
# Options that some release registers only as an alias or negative form keep a Flag too (lookups by name).
for _option in sorted(flags_data.FLAGS):
    for _row in flags_data.FLAGS[_option]:
        if _row[_CANON] not in FLAGS and _row[_CANON] not in _NOT_FOR_SERVING:
            FLAGS[_row[_CANON]] = _make_flag(_row[_CANON], _row)

# Short (and other) aliases argparse registers: alias -> (target long flag, first dumped release with it).
ALIASES = {
    option: (_newest_row(option)[_CANON], _spans(option)[0][0])
    for option in sorted(flags_data.FLAGS)
    if option not in _NOT_FOR_SERVING and _newest_row(option)[_CANON] != option
    and _newest_row(option)[_FORM] != "neg"
}

# Value choices.  dtype choices: every dumped release lists these six (ModelDType).
DTYPE_CHOICES = ("auto", "half", "float16", "bfloat16", "float", "float32")
_KV_CACHE_DTYPES_FALLBACK = ("auto", "fp8", "fp8_e5m2", "fp8_e4m3")


def kv_cache_dtype_choices(version_text):
    """--kv-cache-dtype choices of a release, from its parser; a release whose parser lists none (0.33
    validates the value in CacheConfig instead) gets those of the newest earlier release that does."""
    version = parse_version(version_text)
    candidates = [dumped for dumped in _DUMPED if dumped <= _dumped_release(version)]
    for dumped in sorted(candidates, reverse=True):
        row = _options(dumped).get("--kv-cache-dtype")
        if row is not None and row[_CHOICES]:
            return list(row[_CHOICES])
    return list(_KV_CACHE_DTYPES_FALLBACK)


def _flag_at(name, version):
    """The Flag for canonical ``name`` with its kind in ``version`` (None where that release lacks it)."""
    row = _options(version).get(name)
    if row is None or row[_CANON] != name:
        return None
    return _make_flag(name, row)


def no_form_available(flag, version):
    """True when ``--no-<flag>`` is accepted by release tuple ``version`` (its parser registers it)."""
    row = _options(version).get("--no-" + flag.name[2:])
    return row is not None and row[_FORM] == "neg" and row[_CANON] == flag.name


def flag_available(flag, version):
    """True when ``flag`` (a Flag) exists in release tuple ``version``."""
    return _flag_at(flag.name, version) is not None


def accepted_flags(version_text):
    """Sorted list of the long option strings ``vllm serve`` accepts in a release (``--no-X``, ``--disable-X``
    and long aliases included), as its own parser registers them."""
    return sorted(option for option in _options(parse_version(version_text)) if option.startswith("--"))


def _span(flag):
    parts = []
    for since, until in _spans(flag.name) or [(flag.since, flag.until)]:
        parts.append("%s and later" % since if until is None else "%s up to (not including) %s" % (since, until))
    return ", ".join(parts)


def lookup_flag(token, version_text):
    """Resolve a command-line token (``--x``, ``--x=v``, ``--no-x``, ``-tp``) to its Flag for a release.

    Returns ``(flag, negated)``: the canonical Flag (aliases and negative forms resolved) and whether the
    token was a negative form.
    vLLM's FlexibleArgumentParser reads ``--max_model_len`` as ``--max-model-len``; so does this.
    Raises LlmopsError naming the flag, the release, why, and what works instead.
    """
    version = parse_version(version_text)
    name = token.split("=", 1)[0]
    if name.startswith("--") and "_" in name:
        name = "--" + name[2:].replace("_", "-")
    options = _options(version)
    row = options.get(name)
    if row is not None:
        flag = _make_flag(row[_CANON], options[row[_CANON]] if row[_CANON] in options else row)
        # negated: a negative form (--no-x, or 0.33's --disable-x paired with --enable-x); the Flag is the
        # canonical one either way, so extra_args cannot set a role-owned flag through its other spelling
        return flag, row[_FORM] == "neg"
    if name in ALIASES:
        target, since = ALIASES[name]
        raise LlmopsError(
            "flag %s is not accepted by vLLM %s (the %salias exists from %s); use %s"
            % (name, version_text, "" if name.startswith("--") else "short ", since, target)
        )
    flag = FLAGS.get(name)
    if flag is None and name.startswith("--no-") and ("--" + name[5:]) in FLAGS:
        flag = FLAGS["--" + name[5:]]
        if flag_available(flag, version):
            raise LlmopsError(
                "flag %s is not accepted by vLLM %s: %s has no --no- form in that release; leave it out instead"
                % (name, version_text, flag.name)
            )
    if flag is None:
        close = difflib.get_close_matches(name, accepted_flags(version_text), n=3, cutoff=0.75)
        raise LlmopsError(
            "flag %s is not a `vllm serve` flag known for vLLM %s%s"
            % (name, version_text, "; did you mean %s?" % ", ".join(close) if close else
               "; see `vllm serve --help` of that release, or docs/vllm_deploy.md for the table")
        )
    note = (" (%s)" % flag.note) if flag.note else ""
    raise LlmopsError(
        "flag %s is not accepted by vLLM %s%s; it exists in releases %s"
        % (name, version_text, note, _span(flag))
    )


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
