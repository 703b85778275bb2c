# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWX / Automation Platform: the job templates, their surveys (generated from the roles' argument_specs), the
credential types and the workflow, as data the config-as-code playbook (playbooks/awx_config.yml) applies."""
