# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the GPU Operator values core (plugins/module_utils/_operator/values.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._operator import values as _values


def gpu_operator_values(node_facts, **kwargs):
    """Return ``{"values": ..., "decisions": [...]}`` for the gpu-operator chart."""
    try:
        values, decisions = _values.operator_values(node_facts, **kwargs)
    except LlmopsError as err:
        raise AnsibleFilterError(str(err)) from err
    return {"values": values, "decisions": decisions}


def gpu_time_slicing_config(replicas):
    """Return the device-plugin time-slicing config for ``replicas`` per GPU."""
    return _values.time_slicing_config(replicas)


def gpu_operator_chart_upgrade(deployed_chart, target_version, chart_ref=""):
    """Return ``{"decision": ..., "problem": ...}`` for installing ``target_version`` over ``deployed_chart``.

    ``problem`` is empty unless the change is refused (a downgrade, or a version that is not one).
    """
    try:
        return {"decision": _values.chart_upgrade_check(deployed_chart, target_version, chart_ref), "problem": ""}
    except LlmopsError as err:
        return {"decision": "", "problem": str(err)}


def gpu_operator_driver_upgrade(live_policy, rendered_policy, allow_downgrade=False):
    """Return ``{"decision": ..., "problem": ...}`` for the driver the rendered ClusterPolicy asks for."""
    try:
        return {"decision": _values.driver_upgrade_check(live_policy, rendered_policy, allow_downgrade), "problem": ""}
    except LlmopsError as err:
        return {"decision": "", "problem": str(err)}


def gpu_operator_chart_version(chart_label):
    """Return the version in a ``helm.sh/chart`` label or a release's chart field (``gpu-operator-v26.7.0``)."""
    try:
        return _values.chart_version_of(chart_label)
    except LlmopsError as err:
        raise AnsibleFilterError(str(err)) from err


class FilterModule(object):
    def filters(self):
        return {
            "gpu_operator_values": gpu_operator_values,
            "gpu_time_slicing_config": gpu_time_slicing_config,
            "gpu_operator_chart_upgrade": gpu_operator_chart_upgrade,
            "gpu_operator_chart_version": gpu_operator_chart_version,
            "gpu_operator_driver_upgrade": gpu_operator_driver_upgrade,
        }
