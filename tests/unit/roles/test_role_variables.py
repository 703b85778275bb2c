"""Every role's public variables agree across defaults/main.yml, meta/argument_specs.yml and README.md."""

import os

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROLES = sorted(r for r in os.listdir(os.path.join(ROOT, "roles")) if not r.startswith("."))


def _load(role, *parts):
    with open(os.path.join(ROOT, "roles", role, *parts), encoding="utf-8") as fh:
        return fh.read()


@pytest.mark.parametrize("role", ROLES)
def test_defaults_match_argument_specs(role):
    defaults = yaml.safe_load(_load(role, "defaults", "main.yml")) or {}
    specs = yaml.safe_load(_load(role, "meta", "argument_specs.yml"))["argument_specs"]["main"]["options"]
    public = {k: v for k, v in defaults.items() if not k.startswith("__")}
    with_default = sorted(k for k, v in specs.items() if "default" in v)
    assert sorted(public) == with_default, (
        "%s: defaults/main.yml keys %s != argument_specs options with a default %s" % (role, sorted(public), with_default))
    for key, value in public.items():
        assert key.startswith(role + "_"), "%s: variable %s is not prefixed %s_" % (role, key, role)
        assert key in specs, "%s: %s is in defaults but not in argument_specs" % (role, key)
        if "default" in specs[key]:
            assert specs[key]["default"] == value, "%s: default of %s differs: spec %r, defaults %r" % (
                role, key, specs[key]["default"], value)


@pytest.mark.parametrize("role", ROLES)
def test_readme_documents_every_public_variable(role):
    readme = _load(role, "README.md")
    specs = yaml.safe_load(_load(role, "meta", "argument_specs.yml"))["argument_specs"]["main"]["options"]
    missing = [k for k in specs if "`%s`" % k not in readme]
    assert not missing, "%s/README.md does not document %s" % (role, missing)
