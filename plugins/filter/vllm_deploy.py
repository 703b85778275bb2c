# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Thin filters over plugins/module_utils/_vllm (vLLM release knowledge and the deployment plan).

- ``vllm_deploy_plans(models, sizings, parallels, nodes, options, pods, canary)`` -> ``{plans, canary, problems}``
- ``vllm_deploy_models(models, defaults, canary, action)`` -> ``{models, problems}`` (schema check + defaults)
- ``vllm_deploy_gpu_is_mig(nodes, product)`` -> whether that product's GPUs are MIG slices
- ``vllm_deploy_gpus_per_node(nodes, product)`` -> largest allocatable nvidia.com/gpu of that product
- ``vllm_serve_args(settings, vllm_version)`` -> list of ``vllm serve`` arguments (raises on a bad flag)
- ``vllm_check_extra_args(extra_args, vllm_version)`` -> normalised list (raises on a flag the release lacks)
- ``vllm_metric_names(vllm_version)`` -> ``{kv_cache_usage: vllm:kv_cache_usage_perc, ...}``
- ``vllm_image(vllm_version)`` -> ``vllm/vllm-openai:v<version>``
- ``vllm_deploy_summary(plans, namespace, objects, applied)`` -> the end-of-run table, one string per line
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import args as vargs
from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import manifests
from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import model_entry
from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import plan as vplan
from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import releases
from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import summary


def _wrap(func):
    def inner(*a, **kw):
        try:
            return func(*a, **kw)
        except LlmopsError as err:
            raise AnsibleFilterError(str(err)) from err
    inner.__name__ = func.__name__
    inner.__doc__ = func.__doc__
    return inner


def vllm_deploy_plans(models, sizings, parallels, nodes, options, pods=None, canary=None):
    return vplan.plan_all(list(models), list(sizings), list(parallels), list(nodes), dict(options or {}),
                          list(pods or []), canary)


def vllm_deploy_models(models, defaults=None, canary=None, action="none"):
    return model_entry.merge_models(models, dict(defaults or {}), canary, action)


def vllm_deploy_kinds(track="stable"):
    return manifests.kinds(track)


def vllm_deploy_gpu_is_mig(nodes, product):
    return vplan.is_mig(vplan.summarize_nodes(nodes), product)


def vllm_deploy_gpus_per_node(nodes, product):
    return vplan.gpus_per_node(vplan.summarize_nodes(nodes), product)


def vllm_serve_args(settings, vllm_version=releases.DEFAULT_VERSION):
    return vargs.render_serve_args(dict(settings), vllm_version)


def vllm_check_extra_args(extra_args, vllm_version=releases.DEFAULT_VERSION):
    return vargs.parse_extra_args(extra_args, vllm_version)


def vllm_metric_names(vllm_version=releases.DEFAULT_VERSION):
    releases.check_supported(vllm_version)
    return releases.metric_names(vllm_version)


def vllm_image(vllm_version=releases.DEFAULT_VERSION, repository=releases.IMAGE_REPOSITORY):
    return releases.image_for(vllm_version, repository)


def vllm_deploy_summary(plans, namespace, objects=None, applied=None):
    return summary.table(list(plans), namespace, list(objects or []), None if applied is None else list(applied))


class FilterModule(object):
    def filters(self):
        return {
            "vllm_deploy_plans": _wrap(vllm_deploy_plans),
            "vllm_deploy_models": _wrap(vllm_deploy_models),
            "vllm_deploy_gpu_is_mig": _wrap(vllm_deploy_gpu_is_mig),
            "vllm_deploy_kinds": _wrap(vllm_deploy_kinds),
            "vllm_deploy_gpus_per_node": _wrap(vllm_deploy_gpus_per_node),
            "vllm_serve_args": _wrap(vllm_serve_args),
            "vllm_check_extra_args": _wrap(vllm_check_extra_args),
            "vllm_metric_names": _wrap(vllm_metric_names),
            "vllm_image": _wrap(vllm_image),
            "vllm_deploy_summary": _wrap(vllm_deploy_summary),
        }
