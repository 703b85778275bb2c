"""inventories/example, the on-prem layout a team copies: the groups resolve (GPU types under gpu_nodes), the
vaulted secret decrypts with the example password and is never the ciphertext, every group_vars variable the roles
read is one of their options (no typo silently ignored), and the fit-or-fail plan of its models runs and fits."""

import glob
import json
import os
import subprocess
import sys

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
INV = os.path.join(ROOT, "inventories", "example")
VAULT = ["--vault-password-file", os.path.join(ROOT, "inventories", "example.vault-password")]
BIN = os.path.dirname(sys.executable)
ENV = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build", "collections"), ANSIBLE_NOCOLOR="1")


class VaultLoader(yaml.SafeLoader):
    """SafeLoader that reads ansible-vault's !vault values as an opaque string."""


VaultLoader.add_constructor("!vault", lambda loader, node: "<vaulted>")


def run(tool, *args):
    return subprocess.run([os.path.join(BIN, tool), "-i", INV, *VAULT, *args], capture_output=True, text=True,
                          env=ENV, check=False, timeout=300)


def test_groups_and_vaulted_secret():
    out = run("ansible-inventory", "--list", "--export")
    assert out.returncode == 0, out.stderr
    inv = json.loads(out.stdout)
    assert set(inv["gpu_nodes"]["children"]) == {"gpu_h100", "gpu_l40s"}
    assert len(inv["gpu_h100"]["hosts"]) == 2 and inv["model_store"]["hosts"] == ["store-01.dc1.example.internal"]
    assert set(inv["ungrouped"].get("hosts", [])) <= {"localhost"}
    out = run("ansible", "localhost", "-m", "ansible.builtin.debug", "-a", "msg={{ vault_hf_token }}")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "hf_example_token_not_real" in out.stdout and "$ANSIBLE_VAULT" not in out.stdout


def test_group_vars_are_role_options():
    options = {}
    for spec in glob.glob(os.path.join(ROOT, "roles", "*", "meta", "argument_specs.yml")):
        with open(spec) as handle:
            options.update(yaml.safe_load(handle)["argument_specs"]["main"]["options"])
    unknown = []
    for path in glob.glob(os.path.join(INV, "group_vars", "**", "*.yml"), recursive=True):
        with open(path) as handle:
            data = yaml.load(handle, Loader=VaultLoader)  # noqa: S506 - SafeLoader plus the !vault tag
        for key in data or {}:
            if key.split("_")[0] in {"gpu", "vllm", "model", "monitoring"} and key not in options:
                unknown.append("%s: %s" % (os.path.relpath(path, ROOT), key))
    assert not unknown, "not an option of any role: %s" % unknown


def test_plan_of_the_example_models_fits():
    out = run("ansible-playbook", os.path.join(ROOT, "playbooks", "plan.yml"), "-e", "plan_fail_on_misfit=true")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr
    for name in ("llama-3.1-8b-instruct", "llama-70b-fp8", "qwen-32b-awq"):
        assert name in out.stdout
