# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# Apache License 2.0 (see LICENSE)
"""Thin filters over plugins/module_utils/_vllm (vLLM release knowledge and the deployment plan).

- ``vllm_deploy_plan(model, sizing, parallel, nodes, options, pods)`` -> ``{plan, problems}``
- ``vllm_serve_args(settings, vllm_version)`` -> list of ``vllm serve`` arguments (raises on a bad flag)
- ``vllm_check_extra_args(extra_args, vllm_version)`` -> normalised list (raises on a flag the release lacks)
- ``vllm_metric_names(vllm_version)`` -> ``{kv_cache_usage: vllm:kv_cache_usage_perc, ...}``
- ``vllm_image(vllm_version)`` -> ``vllm/vllm-openai:v<version>``
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import args as vargs
from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import plan as vplan
from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import releases


def _wrap(func):
    def inner(*a, **kw):
        try:
            return func(*a, **kw)
        except LlmopsError as err:
            raise AnsibleFilterError(str(err)) from err
    inner.__name__ = func.__name__
    inner.__doc__ = func.__doc__
    return inner


def vllm_deploy_plan(model, sizing, parallel, nodes, options, pods=None):
    plan, problems = vplan.derive(dict(model), dict(sizing or {}), dict(parallel or {}),
                                  vplan.summarize_nodes(nodes), dict(options or {}), pods or [])
    return {"plan": plan, "problems": problems}


def vllm_serve_args(settings, vllm_version=releases.DEFAULT_VERSION):
    return vargs.render_serve_args(dict(settings), vllm_version)


def vllm_check_extra_args(extra_args, vllm_version=releases.DEFAULT_VERSION):
    return vargs.parse_extra_args(extra_args, vllm_version)


def vllm_metric_names(vllm_version=releases.DEFAULT_VERSION):
    releases.check_supported(vllm_version)
    return releases.metric_names(vllm_version)


def vllm_image(vllm_version=releases.DEFAULT_VERSION, repository=releases.IMAGE_REPOSITORY):
    return releases.image_for(vllm_version, repository)


class FilterModule(object):
    def filters(self):
        return {
            "vllm_deploy_plan": _wrap(vllm_deploy_plan),
            "vllm_serve_args": _wrap(vllm_serve_args),
            "vllm_check_extra_args": _wrap(vllm_check_extra_args),
            "vllm_metric_names": _wrap(vllm_metric_names),
            "vllm_image": _wrap(vllm_image),
        }
