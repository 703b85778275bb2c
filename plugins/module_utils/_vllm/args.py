# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render ``vllm serve`` arguments from validated settings, and check user ``extra_args`` against a release."""

from __future__ import annotations

import re

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import releases

# Settings key -> flag, in the order they are rendered.  Values of None are left out (vLLM default).
_VALUE_SETTINGS = (
    ("served_model_name", "--served-model-name"),
    ("tensor_parallel_size", "--tensor-parallel-size"),
    ("pipeline_parallel_size", "--pipeline-parallel-size"),
    ("max_model_len", "--max-model-len"),
    ("max_num_seqs", "--max-num-seqs"),
    ("max_num_batched_tokens", "--max-num-batched-tokens"),
    ("gpu_memory_utilization", "--gpu-memory-utilization"),
    ("quantization", "--quantization"),
    ("kv_cache_dtype", "--kv-cache-dtype"),
    ("dtype", "--dtype"),
    ("block_size", "--block-size"),
    ("distributed_executor_backend", "--distributed-executor-backend"),
    ("max_loras", "--max-loras"),
    ("max_lora_rank", "--max-lora-rank"),
)

# Flags the role owns: a user setting them in extra_args would contradict the validated settings
# (or leak a secret into the pod spec), so they are refused with the key to use instead.
OWNED_FLAGS = {
    "--model": "model",
    "--host": "(the role binds 0.0.0.0)",
    "--port": "vllm_deploy_container_port",
    "--api-key": "vllm_deploy_api_key_secret (passed as VLLM_API_KEY from a Secret)",
    "--hf-token": "vllm_deploy_hf_token_secret (passed as HF_TOKEN from a Secret)",
    "--enable-prefix-caching": "enable_prefix_caching",
    "--enable-lora": "lora_adapters",
    "--lora-modules": "lora_adapters",
}
OWNED_FLAGS.update({flag: key for key, flag in _VALUE_SETTINGS})

_INT_KEYS = ("tensor_parallel_size", "pipeline_parallel_size", "max_model_len", "max_num_seqs",
             "max_num_batched_tokens", "block_size", "max_loras", "max_lora_rank")
_LORA_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def _fmt(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def parse_extra_args(extra_args, version_text):
    """Check every token of ``extra_args`` against the release; return a normalised list of strings.

    Accepts ``["--flag", "value"]``, ``["--flag=value"]`` and ``["--flag value"]`` (split once).
    """
    if extra_args is None:
        return []
    if not isinstance(extra_args, (list, tuple)):
        raise LlmopsError("extra_args=%r must be a list of strings, e.g. ['--enforce-eager']" % (extra_args,))
    tokens = []
    for item in extra_args:
        if not isinstance(item, (str, int, float)) or isinstance(item, bool):
            raise LlmopsError("extra_args item %r must be a string, e.g. '--max-logprobs=5'" % (item,))
        item = str(item)
        if item.startswith("-") and " " in item and "=" not in item.split(" ", 1)[0]:
            tokens.extend(item.split(" ", 1))
        else:
            tokens.append(item)
    out = []
    expect_value = None
    for token in tokens:
        if token.startswith("-") and not _is_number(token):
            if expect_value is not None and expect_value.kind == "value":
                raise LlmopsError("extra_args flag %s needs a value, got the flag %s next" % (expect_value.name, token))
            flag, negated = releases.lookup_flag(token, version_text)
            if flag.name in OWNED_FLAGS:
                raise LlmopsError(
                    "extra_args sets %s, which the role renders from %s; set that instead"
                    % (token.split("=", 1)[0], OWNED_FLAGS[flag.name])
                )
            has_inline = "=" in token
            if flag.kind in ("bool",) and has_inline:
                raise LlmopsError("extra_args flag %s is a switch and takes no value; write %s"
                                  % (token, token.split("=", 1)[0]))
            expect_value = flag if (flag.kind in ("value", "multi") and not has_inline and not negated) else None
        else:
            if expect_value is None:
                raise LlmopsError("extra_args value %r does not follow a flag that takes a value" % token)
            if expect_value.kind == "value":
                expect_value = None
        out.append(token)
    if expect_value is not None and expect_value.kind == "value":
        raise LlmopsError("extra_args flag %s needs a value" % expect_value.name)
    return out


def _is_number(token):
    try:
        float(token)
        return True
    except ValueError:
        return False


def validate_settings(settings, version_text):
    """Type and choice checks on the settings that become flags; raises LlmopsError."""
    name = settings.get("name", "?")
    for key in _INT_KEYS:
        value = settings.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise LlmopsError("model %s: %s=%r must be a positive integer" % (name, key, value))
    gmu = settings.get("gpu_memory_utilization")
    if gmu is not None and not (isinstance(gmu, (int, float)) and 0 < float(gmu) <= 1):
        raise LlmopsError("model %s: gpu_memory_utilization=%r must be in (0, 1], e.g. 0.9" % (name, gmu))
    dtype = settings.get("dtype")
    if dtype is not None and dtype not in releases.DTYPE_CHOICES:
        raise LlmopsError("model %s: dtype=%r is not a vLLM dtype; valid: %s"
                          % (name, dtype, list(releases.DTYPE_CHOICES)))
    kvd = settings.get("kv_cache_dtype")
    if kvd is not None:
        choices = releases.kv_cache_dtype_choices(version_text)
        if kvd not in choices:
            raise LlmopsError("model %s: kv_cache_dtype=%r is not accepted by vLLM %s; valid: %s"
                              % (name, kvd, version_text, choices))
    for adapter in settings.get("lora_adapters") or []:
        if not isinstance(adapter, dict) or not adapter.get("name") or not adapter.get("path"):
            raise LlmopsError("model %s: lora_adapters item %r needs name and path, e.g. "
                              "{name: sql-lora, path: /models/adapters/sql}" % (name, adapter))
        if not _LORA_NAME.match(str(adapter["name"])):
            raise LlmopsError("model %s: LoRA adapter name %r must match %s"
                              % (name, adapter["name"], _LORA_NAME.pattern))


def render_serve_args(settings, version_text, port=8000):
    """The argument list after ``vllm serve``: the model first, then flags in a stable order."""
    releases.check_supported(version_text)
    validate_settings(settings, version_text)
    version = releases.parse_version(version_text)
    model = settings.get("model")
    if not model:
        raise LlmopsError("model %s: `model` (HF id or path in the container) is empty" % settings.get("name", "?"))
    args = [str(model), "--host", "0.0.0.0", "--port", str(port)]
    for key, flag in _VALUE_SETTINGS:
        value = settings.get(key)
        if value is None:
            continue
        if key in ("kv_cache_dtype", "dtype") and value == "auto":
            continue
        if key == "pipeline_parallel_size" and value == 1:
            continue
        releases.lookup_flag(flag, version_text)
        args.extend([flag, _fmt(value)])
    prefix = settings.get("enable_prefix_caching")
    if prefix is True:
        args.append("--enable-prefix-caching")
    elif prefix is False and releases.no_form_available(releases.FLAGS["--enable-prefix-caching"], version):
        args.append("--no-enable-prefix-caching")
    adapters = settings.get("lora_adapters") or []
    if adapters:
        args.append("--enable-lora")
        args.append("--lora-modules")
        args.extend("%s=%s" % (a["name"], a["path"]) for a in adapters)
    args.extend(parse_extra_args(settings.get("extra_args"), version_text))
    return args
