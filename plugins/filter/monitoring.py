# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Thin filters over plugins/module_utils/_monitoring.

- ``monitoring_dashboards(namespace, vllm_version, labels)`` -> the Grafana dashboard ConfigMaps (vLLM + GPU)
- ``monitoring_gpu_rule(namespace, settings, labels)`` -> the GPU alerts' PrometheusRule (DCGM exporter fields)
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._monitoring import dashboards
from ansible_collections.llmops.vllm_serving.plugins.module_utils._monitoring import rules
from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import releases


def monitoring_dashboards(namespace, vllm_version=releases.DEFAULT_VERSION, labels=None):
    try:
        return dashboards.configmaps(namespace, vllm_version, None if labels is None else dict(labels))
    except LlmopsError as err:
        raise AnsibleFilterError(str(err)) from err


def monitoring_gpu_rule(namespace, settings=None, labels=None):
    try:
        return rules.prometheus_rule(namespace, dict(settings or {}), dict(labels or {}))
    except LlmopsError as err:
        raise AnsibleFilterError(str(err)) from err


class FilterModule(object):
    def filters(self):
        return {"monitoring_dashboards": monitoring_dashboards, "monitoring_gpu_rule": monitoring_gpu_rule}
