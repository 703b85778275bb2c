# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Job templates and surveys for AWX, one table: each template names its playbook, the extra_vars it always
passes, and the role variables its survey asks for; the questions (type, default, choices, required, secret)
are generated from the role's ``meta/argument_specs.yml``, never typed twice.

Type mapping (AWX survey question types): str/path -> text (multiplechoice when the spec has choices), int ->
integer, float -> float, bool -> multiplechoice true/false, list/dict -> textarea holding JSON (Ansible's argument
validation turns a JSON string into the list or dict), no_log -> password.
"""

from __future__ import annotations

import json

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError

# name, playbook, role whose specs the survey reads, survey variables, fixed extra_vars, credential types
JOB_TEMPLATES = [
    {"name": "llmops - plan", "playbook": "playbooks/plan.yml", "role": None, "survey": [], "extra_vars": {},
     "credentials": [], "description": "Fit-or-fail table for every model of the inventory (no cluster needed)."},
    {"name": "llmops - preflight", "playbook": "playbooks/preflight.yml", "role": "gpu_node",
     "survey": ["gpu_node_preflight_fail", "gpu_node_driver_source", "gpu_node_container_runtime", "gpu_node_mig_mode"],
     "extra_vars": {}, "credentials": ["machine"],
     "description": "GPU node preflight: pass/warn/fail per check and host, changes nothing."},
    {"name": "llmops - deploy", "playbook": "playbooks/deploy.yml", "role": "vllm_deploy",
     "survey": ["vllm_deploy_state", "vllm_deploy_vllm_version", "vllm_deploy_wait", "vllm_deploy_wait_timeout",
                "vllm_deploy_smoke_test"],
     "extra_vars": {}, "credentials": ["kubeconfig"],
     "description": "Plan, server-side dry run, apply, rollout wait and smoke test of every model."},
    {"name": "llmops - verify", "playbook": "playbooks/deploy.yml", "role": "vllm_deploy", "survey": [],
     "extra_vars": {"vllm_deploy_smoke_test": True}, "job_tags": "vllm_deploy_preflight,vllm_deploy_smoke",
     "credentials": ["kubeconfig"], "description": "Preflight and smoke test only (GET /health, /v1/models, one completion)."},
    {"name": "llmops - canary deploy", "playbook": "playbooks/canary.yml", "role": "vllm_deploy",
     "survey": ["vllm_deploy_canary"], "extra_vars": {"canary_action": "deploy"}, "credentials": ["kubeconfig"],
     "description": "A canary of one model behind a weighted Ingress."},
    {"name": "llmops - canary promote", "playbook": "playbooks/canary.yml", "role": "vllm_deploy",
     "survey": ["vllm_deploy_canary"], "extra_vars": {"canary_action": "promote"}, "credentials": ["kubeconfig"],
     "description": "The stable Deployment takes the canary's settings; the canary is removed."},
    {"name": "llmops - canary abort", "playbook": "playbooks/canary.yml", "role": "vllm_deploy",
     "survey": ["vllm_deploy_canary"], "extra_vars": {"canary_action": "abort"}, "credentials": ["kubeconfig"],
     "description": "The canary is removed; the stable Deployment is untouched."},
    {"name": "llmops - model rollback", "playbook": "playbooks/model_rollback.yml", "role": "model_store",
     "survey": ["model_store_model", "model_store_rollback_release", "model_store_verify_checksums"],
     "extra_vars": {}, "credentials": ["machine"],
     "description": "Switch a model's current release back (verified first)."},
]

# preflight -> deploy -> verify -> canary promote; a failed deploy or verify aborts the canary and rolls back
WORKFLOW = {
    "name": "llmops - release",
    "description": "preflight, deploy, verify, then promote the canary; on failure abort it and roll the model back",
    "nodes": [
        {"identifier": "preflight", "template": "llmops - preflight", "success": ["deploy"]},
        {"identifier": "deploy", "template": "llmops - deploy", "success": ["verify"], "failure": ["abort"]},
        {"identifier": "verify", "template": "llmops - verify", "success": ["promote"], "failure": ["abort"]},
        {"identifier": "promote", "template": "llmops - canary promote"},
        {"identifier": "abort", "template": "llmops - canary abort", "always": ["rollback"]},
        {"identifier": "rollback", "template": "llmops - model rollback"},
    ],
}

_TYPES = {"str": "text", "path": "text", "raw": "text", "int": "integer", "float": "float",
          "bool": "multiplechoice", "list": "textarea", "dict": "textarea"}


def question(variable, option):
    """One AWX survey question from one argument_specs option."""
    kind = option.get("type", "str")
    if kind not in _TYPES:
        raise LlmopsError("%s: argument_specs type %r has no survey question type; known: %s"
                          % (variable, kind, ", ".join(sorted(_TYPES))))
    description = option.get("description") or ""
    if isinstance(description, list):
        description = " ".join(description)
    out = {"variable": variable, "question_name": variable, "question_description": description[:512],
           "required": bool(option.get("required", False)), "type": _TYPES[kind]}
    default = option.get("default")
    if option.get("no_log"):
        out["type"] = "password"
        default = None
    elif kind == "bool":
        out["choices"] = ["true", "false"]
        default = None if default is None else ("true" if default else "false")
    elif option.get("choices"):
        out["type"] = "multiplechoice"
        out["choices"] = [str(c) for c in option["choices"]]
    elif kind in ("list", "dict"):
        default = None if default is None else json.dumps(default, sort_keys=True)
    if default is not None:
        out["default"] = default
    return out


def survey(template, specs):
    """The survey of a job template (``specs``: the role's argument_specs options), or None when it asks nothing."""
    if not template["survey"]:
        return None
    missing = [v for v in template["survey"] if v not in specs]
    if missing:
        raise LlmopsError("%s: survey variable(s) %s are not options of role %s's argument_specs"
                          % (template["name"], ", ".join(missing), template["role"]))
    return {"name": template["name"], "description": template["description"],
            "spec": [question(v, specs[v]) for v in template["survey"]]}


def job_templates(role_specs):
    """Every job template with its generated survey; ``role_specs``: {role: argument_specs options}."""
    out = []
    for template in JOB_TEMPLATES:
        item = dict(template)
        item["survey_spec"] = survey(template, role_specs.get(template["role"]) or {}) if template["role"] else None
        out.append(item)
    return out


def check_workflow():
    """Every workflow node names a job template and every edge a node."""
    names = {t["name"] for t in JOB_TEMPLATES}
    ids = {n["identifier"] for n in WORKFLOW["nodes"]}
    problems = []
    for node in WORKFLOW["nodes"]:
        if node["template"] not in names:
            problems.append("node %s: no job template %r" % (node["identifier"], node["template"]))
        for edge in ("success", "failure", "always"):
            problems += ["node %s: %s edge to unknown node %s" % (node["identifier"], edge, t)
                         for t in node.get(edge, []) if t not in ids]
    if problems:
        raise LlmopsError("; ".join(problems))
    return WORKFLOW


def workflow_nodes(organization):
    """The workflow's nodes in awx.awx.workflow_job_template's ``workflow_nodes`` schema."""
    check_workflow()
    out = []
    for node in WORKFLOW["nodes"]:
        related = {"%s_nodes" % edge: [{"identifier": t} for t in node.get(edge, [])]
                   for edge in ("success", "failure", "always") if node.get(edge)}
        out.append({"identifier": node["identifier"],
                    "unified_job_template": {"name": node["template"], "type": "job_template",
                                             "organization": {"name": organization}},
                    "related": related})
    return out
