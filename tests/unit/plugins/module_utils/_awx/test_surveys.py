"""AWX as code: every job template's playbook exists and runs non-interactively from extra_vars, its survey is
generated from the role's argument_specs (types, defaults, choices, secrets), the workflow's edges are sound, and
playbooks/awx_config.yml renders them through Ansible (`--tags awx_render`; applying it needs a live AWX)."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from ansible_collections.llmops.vllm_serving.plugins.module_utils._awx import surveys
from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", ".."))


def specs(role):
    with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")) as handle:
        return yaml.safe_load(handle)["argument_specs"]["main"]["options"]


ROLE_SPECS = {r: specs(r) for r in ("gpu_node", "vllm_deploy", "model_store")}


@pytest.mark.parametrize("template", surveys.JOB_TEMPLATES, ids=lambda t: t["name"])
def test_playbook_exists_and_survey_matches_the_specs(template):
    assert os.path.exists(os.path.join(ROOT, template["playbook"])), template["playbook"]
    item = [t for t in surveys.job_templates(ROLE_SPECS) if t["name"] == template["name"]][0]
    if not template["survey"]:
        assert item["survey_spec"] is None
        return
    options = ROLE_SPECS[template["role"]]
    assert [q["variable"] for q in item["survey_spec"]["spec"]] == template["survey"]
    for q in item["survey_spec"]["spec"]:
        opt = options[q["variable"]]
        kind = opt.get("type", "str")
        if kind == "bool":
            assert q["type"] == "multiplechoice" and q["choices"] == ["true", "false"]
            assert q["default"] == ("true" if opt["default"] else "false")
        elif opt.get("choices"):
            assert q["type"] == "multiplechoice" and q["choices"] == [str(c) for c in opt["choices"]]
            assert q["default"] == opt["default"]
        elif kind in ("dict", "list"):
            assert q["type"] == "textarea" and json.loads(q["default"]) == opt["default"]
        elif kind == "int":
            assert q["type"] == "integer" and q["default"] == opt["default"]
        else:
            assert q["type"] == "text" and q["default"] == opt.get("default")
        assert q["required"] == bool(opt.get("required", False))


def test_secret_options_become_password_questions_without_default():
    q = surveys.question("x_token", {"type": "str", "no_log": True, "default": "s3cret", "description": "a token"})
    assert q["type"] == "password" and "default" not in q


def test_unknown_survey_variable_and_type_are_refused():
    bad = dict(surveys.JOB_TEMPLATES[2], survey=["vllm_deploy_statee"])
    with pytest.raises(LlmopsError, match=r"llmops - deploy: survey variable\(s\) vllm_deploy_statee are not options"):
        surveys.survey(bad, ROLE_SPECS["vllm_deploy"])
    with pytest.raises(LlmopsError, match=r"x: argument_specs type 'bits' has no survey question type"):
        surveys.question("x", {"type": "bits"})


def test_workflow_edges_and_awx_schema():
    wf = surveys.check_workflow()
    ids = [n["identifier"] for n in wf["nodes"]]
    assert ids[0] == "preflight" and "promote" in ids and "rollback" in ids
    nodes = {n["identifier"]: n for n in surveys.workflow_nodes("Site")}
    assert nodes["deploy"]["related"] == {"success_nodes": [{"identifier": "verify"}], "failure_nodes": [{"identifier": "abort"}]}
    assert nodes["verify"]["unified_job_template"] == {"name": "llmops - verify", "type": "job_template",
                                                       "organization": {"name": "Site"}}


def _playbook(*args):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build", "collections"), ANSIBLE_NOCOLOR="1")
    return subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
                           "-c", "local", os.path.join(ROOT, "playbooks", "awx_config.yml"), *args],
                          capture_output=True, text=True, env=env, check=False, timeout=120)


def test_config_playbook_renders_through_ansible():
    out = _playbook("--syntax-check")
    assert out.returncode == 0, out.stdout + out.stderr
    out = _playbook("--tags", "awx_render")
    assert out.returncode == 0, out.stdout + out.stderr
    assert '"llmops - canary promote"' in out.stdout and '"vllm_deploy_canary"' in out.stdout
    assert '"rollback"' in out.stdout


def test_config_playbook_refuses_without_a_project_url():
    out = _playbook()
    assert out.returncode != 0
    assert "awx_project_scm_url is empty" in out.stdout


def test_every_playbook_runs_without_prompting():
    for name in sorted(os.listdir(os.path.join(ROOT, "playbooks"))):
        if name.endswith(".yml"):
            with open(os.path.join(ROOT, "playbooks", name)) as handle:
                text = handle.read()
            assert "vars_prompt" not in text and "ansible.builtin.pause" not in text, name
