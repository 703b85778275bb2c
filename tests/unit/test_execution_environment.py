"""The execution environment for AWX / Automation Platform: the definition in execution-environment/ is accepted by
the real ansible-builder (`create` writes the build context: the collections' Galaxy install, their introspection,
helm), and ansible-builder's introspection of the installed collection reads meta/execution-environment.yml's
Python dependencies, which cover what the plugins import beyond ansible-core."""

import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILDER = os.path.join(os.path.dirname(sys.executable), "ansible-builder")


def run(*args, cwd=None):
    return subprocess.run([BUILDER, *args], capture_output=True, text=True, check=False, cwd=cwd, timeout=120)


def test_definition_is_accepted_by_ansible_builder_create(tmp_path):
    out = run("create", "-f", os.path.join(ROOT, "execution-environment", "execution-environment.yml"),
              "-c", str(tmp_path / "context"), "--output-filename", "Containerfile")
    assert out.returncode == 0, out.stdout + out.stderr
    containerfile = (tmp_path / "context" / "Containerfile").read_text()
    assert "ansible-galaxy collection install" in containerfile and "introspect" in containerfile
    assert re.search(r"install -m 0755 \S*helm /usr/local/bin/helm", containerfile)
    requirements = (tmp_path / "context" / "_build" / "requirements.yml").read_text()
    assert "llmops.vllm_serving" in requirements and "kubernetes.core" in requirements


def test_introspection_reads_the_collection_metadata():
    out = run("introspect", os.path.join(ROOT, ".build", "collections"))
    assert out.returncode == 0, out.stdout + out.stderr
    found = set(re.findall(r"'([A-Za-z0-9_.-]+)[<>=!~]", out.stdout))
    with open(os.path.join(ROOT, "meta", "ee-requirements.txt")) as handle:
        listed = {re.split(r"[<>=!~ ]", line.strip())[0] for line in handle if line.strip() and not line.startswith("#")}
    assert listed and listed <= found, out.stdout


def test_python_dependencies_cover_the_plugins_imports():
    imported = set()
    for base, _dirs, files in os.walk(os.path.join(ROOT, "plugins")):
        for name in files:
            if name.endswith(".py"):
                with open(os.path.join(base, name)) as handle:
                    imported |= set(re.findall(r"^\s*(?:from|import) (kubernetes|jmespath|huggingface_hub|yaml)\b",
                                               handle.read(), re.M))
    with open(os.path.join(ROOT, "meta", "ee-requirements.txt")) as handle:
        text = handle.read()
    pip_names = {"kubernetes": "kubernetes", "jmespath": "jmespath", "huggingface_hub": "huggingface_hub", "yaml": None}
    for module in imported:
        if pip_names[module]:  # PyYAML comes with ansible-core
            assert pip_names[module] in text, "%s is imported by a plugin but not in meta/ee-requirements.txt" % module
