"""The real promtool for the rule and dashboard tests: built from the pinned Prometheus module by
hack/testbed.sh build (make test always builds it), else one on PATH; tests that need it skip only when it is
missing and LLMOPS_REQUIRE_PROMTOOL is unset."""

import os
import shutil
import subprocess

import pytest

CACHE = os.environ.get("LLMOPS_CACHE") or os.path.expanduser("~/.cache/llmops-vllm-serving")
PROMTOOL = os.path.join(CACHE, "bin", "current", "promtool")
if not os.access(PROMTOOL, os.X_OK):
    PROMTOOL = shutil.which("promtool") or PROMTOOL

needs_promtool = pytest.mark.skipif(
    not os.access(PROMTOOL, os.X_OK) and not os.environ.get("LLMOPS_REQUIRE_PROMTOOL"),
    reason="promtool missing: hack/testbed.sh build makes it (make test always does)")


def promtool(tmp_path, *args):
    return subprocess.run([PROMTOOL, *args], check=False, capture_output=True, text=True, cwd=tmp_path, timeout=60)
