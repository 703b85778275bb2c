# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Thin filters over plugins/module_utils/_awx.

- ``awx_job_templates(role_specs)`` -> the job templates with surveys generated from the roles' argument_specs
- ``awx_workflow(organization)`` -> the release workflow (preflight -> deploy -> verify -> promote; abort + rollback on failure)
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.llmops.vllm_serving.plugins.module_utils._awx import surveys
from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError


def awx_job_templates(role_specs):
    try:
        return surveys.job_templates(dict(role_specs or {}))
    except LlmopsError as err:
        raise AnsibleFilterError(str(err)) from err


def awx_workflow(organization="Default"):
    try:
        return dict(surveys.check_workflow(), workflow_nodes=surveys.workflow_nodes(organization or "Default"))
    except LlmopsError as err:
        raise AnsibleFilterError(str(err)) from err


class FilterModule(object):
    def filters(self):
        return {"awx_job_templates": awx_job_templates, "awx_workflow": awx_workflow}
