"""Run a module of the collection the way Ansible does: a separate process given an args file."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


def run_module(name, tmp_path, args, check_mode=False, diff=False):
    """Return the module's JSON result (plus ``_raw``: its stdout, for asserting what was never printed)."""
    path = tmp_path / ("args-%s.json" % name)
    margs = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": margs}))
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, ".build", "collections"))
    proc = subprocess.run([sys.executable, "-m", "ansible_collections.llmops.vllm_serving.plugins.modules." + name, str(path)],
                          check=False, capture_output=True, text=True, env=env, cwd=str(tmp_path))
    try:
        res = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError("module %s printed no JSON (rc=%s): %s %s" % (name, proc.returncode, proc.stdout, proc.stderr)) from None
    res["_raw"] = proc.stdout
    return res
