"""Defaults that the roles, the modules' and the filters' documentation state are the pure core's: the vLLM
release (one default version, in _vllm/releases.py, that the sizing core uses too) and the GPU rule thresholds."""

import glob
import os
import re

import yaml

from ansible_collections.llmops.vllm_serving.plugins.module_utils._monitoring import rules
from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing import releases as sizing_releases
from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import releases

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _version_defaults():
    """(where, default) of every option that selects the vLLM release."""
    found = []
    for path in glob.glob(os.path.join(ROOT, "roles", "*", "meta", "argument_specs.yml")):
        with open(path) as handle:
            options = yaml.safe_load(handle)["argument_specs"]["main"]["options"]
        found += [(path + ":" + k, v.get("default")) for k, v in options.items() if k.endswith("vllm_version")]
    for path in glob.glob(os.path.join(ROOT, "roles", "*", "defaults", "main.yml")):
        with open(path) as handle:
            found += [(path + ":" + k, v) for k, v in (yaml.safe_load(handle) or {}).items() if k.endswith("vllm_version")]
    for path in glob.glob(os.path.join(ROOT, "plugins", "filter", "*.yml")):
        with open(path) as handle:
            options = (yaml.safe_load(handle)["DOCUMENTATION"].get("options") or {})
        found += [(path + ":" + k, v.get("default")) for k, v in options.items() if k == "vllm_version" and "default" in v]
    for path in glob.glob(os.path.join(ROOT, "plugins", "modules", "*.py")):
        with open(path) as handle:
            text = handle.read()
        doc = re.search(r'DOCUMENTATION = r?"""(.*?)"""', text, re.S)
        options = (yaml.safe_load(doc.group(1)) or {}).get("options") or {} if doc else {}
        found += [(path + ":" + k, v.get("default")) for k, v in options.items() if k == "vllm_version" and "default" in v]
    return found


def test_one_default_vllm_release_everywhere():
    assert sizing_releases.DEFAULT_VLLM_VERSION == releases.DEFAULT_VERSION
    found = _version_defaults()
    assert len(found) >= 6, found  # vllm_deploy, monitoring (role and specs), vllm_sizing, the filters
    wrong = [(where, value) for where, value in found if str(value) != releases.DEFAULT_VERSION]
    assert not wrong, "defaults differ from releases.DEFAULT_VERSION=%s: %s" % (releases.DEFAULT_VERSION, wrong)


def test_gpu_rule_defaults_documented_as_the_core_has_them():
    with open(os.path.join(ROOT, "roles", "monitoring", "meta", "argument_specs.yml")) as handle:
        spec = yaml.safe_load(handle)["argument_specs"]["main"]["options"]["monitoring_gpu_rules"]["description"]
    with open(os.path.join(ROOT, "roles", "monitoring", "defaults", "main.yml")) as handle:
        comment = handle.read()
    with open(os.path.join(ROOT, "plugins", "filter", "monitoring_gpu_rule.yml")) as handle:
        filter_doc = yaml.safe_load(handle)["DOCUMENTATION"]["options"]["settings"]["description"]
    for text in (spec, filter_doc):
        documented = dict(re.findall(r"(\w+) \(([^)]+)\)", text))
        assert documented == {k: str(v) for k, v in rules.DEFAULTS.items()}, text
    # defaults/main.yml lists them as "# temperature_c 85, temperature_for 5m, ..."
    listed = " ".join(line[2:] for line in comment.splitlines()
                      if re.match(r"# (\w+ \S+,? ?)+$", line) and any(k + " " in line for k in rules.DEFAULTS))
    documented = dict(re.findall(r"(\w+) ([^\s,]+)", listed))
    assert documented == {k: str(v) for k, v in rules.DEFAULTS.items()}, listed
