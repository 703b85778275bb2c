"""Every kind the collection renders for representative models, scanned by checkov (its kubernetes framework;
pinned, installed by hack/checkov.sh, which `make test` runs): no check fails, and every check that is skipped is
one of manifests.SCANNER_OPT_OUTS with its reason. checkov does not read LeaderWorkerSets, so their leader and
worker pod templates are scanned as Deployments with the LWS's metadata."""

import json
import os
import subprocess

import pytest
import yaml

from ansible_collections.llmops.vllm_serving.plugins.module_utils._monitoring import dashboards, rules
from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import manifests

from . import test_manifests as tm

CACHE = os.environ.get("LLMOPS_CACHE") or os.path.expanduser("~/.cache/llmops-vllm-serving")
CHECKOV = os.environ.get("LLMOPS_CHECKOV") or os.path.join(CACHE, "checkov-3.3.30", "bin", "checkov")

pytestmark = pytest.mark.skipif(
    not os.access(CHECKOV, os.X_OK) and not os.environ.get("LLMOPS_REQUIRE_CHECKOV"),
    reason="checkov missing: hack/checkov.sh installs it (make test always does)")

DIGEST = "vllm/vllm-openai:v0.33.0@sha256:" + "0123456789abcdef" * 4
HARDENED = {"run_as_user": 10001, "image_pull_policy": "Always", "hf_token_secret": {"name": "hf", "key": "token"}}


def _as_scannable(obj):
    """A LeaderWorkerSet's templates as Deployments (same metadata, so the same skip annotations)."""
    if obj["kind"] != "LeaderWorkerSet":
        return [obj]
    tmpl = obj["spec"]["leaderWorkerTemplate"]
    out = []
    for role in ("leaderTemplate", "workerTemplate"):
        if role in tmpl:
            meta = dict(obj["metadata"], name="%s-%s" % (obj["metadata"]["name"], role.lower()))
            out.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": {
                "replicas": 1, "selector": {"matchLabels": tmpl[role]["metadata"]["labels"]}, "template": tmpl[role]}})
    return out


def _objects(hardened=False):
    objs = list(manifests.namespace_object({}))
    for _case, (make, settings, track) in sorted(tm.CASES.items()):
        plan = make()
        if hardened:
            plan = dict(plan, image=DIGEST)
            settings = dict(settings, **HARDENED)
        objs.extend(manifests.render_model(plan, settings, track))
    if not hardened:
        # a site that opts out of the read-only root filesystem and of the CPU limit
        make, settings, track = tm.CASES["tp2-ingress-keda"]
        objs.extend(o for o in manifests.render_model(make(), dict(settings, namespace="site", read_only_root_filesystem=False,
                                                                   cpu_limit="none"), track)
                    if o["kind"] == "Deployment")
        objs.extend(dashboards.configmaps("monitoring"))
        objs.append(rules.prometheus_rule("monitoring"))
    return [s for o in objs for s in _as_scannable(o)]


def _scan(tmp_path, objs):
    with open(tmp_path / "manifests.yaml", "w") as handle:
        yaml.safe_dump_all(objs, handle, sort_keys=False)
    out = subprocess.run([CHECKOV, "-d", str(tmp_path), "--framework", "kubernetes", "-o", "json",
                          "--skip-download"], check=False, capture_output=True, text=True, timeout=300)
    report = json.loads(out.stdout)
    report = report[0] if isinstance(report, list) else report
    assert report["summary"]["parsing_errors"] == 0, out.stderr
    return report


def _failures(report):
    return sorted({(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]})


def test_every_rendered_kind_passes_the_scan_or_is_a_reasoned_opt_out(tmp_path):
    objs = _objects()
    kinds = {o["kind"] for o in objs}
    assert {"Namespace", "ConfigMap", "Deployment", "Service", "Ingress", "HorizontalPodAutoscaler",
            "PodDisruptionBudget", "NetworkPolicy"} <= kinds, kinds
    report = _scan(tmp_path, objs)
    assert _failures(report) == []
    assert report["summary"]["passed"] > 100 and report["summary"]["resource_count"] >= 25
    reasons = {check: reason for check, _applies, reason in manifests.SCANNER_OPT_OUTS}
    skipped = report["results"]["skipped_checks"]
    assert {c["check_id"] for c in skipped} == set(reasons), "an opt-out nobody needs, or one missing"
    for c in skipped:  # the reason checkov read is ours, filled in (no unexplained skip)
        template = reasons[c["check_id"]].split("{")[0].replace("=", " ")
        comment = c["check_result"]["suppress_comment"]
        assert comment.startswith(template) and "{" not in comment, c


def test_a_hardened_model_needs_no_opt_out(tmp_path):
    """Digest-pinned image, pull Always, uid >= 10000, the HF token as a file: nothing to skip, nothing fails;
    only the API key (vLLM reads it from the environment or the command line) keeps its opt-out."""
    objs = _objects(hardened=True)
    workloads = [o for o in objs if o["kind"] == "Deployment"]
    assert workloads
    for obj in workloads:
        skips = {k: v for k, v in obj["metadata"].get("annotations", {}).items() if k.startswith("checkov.io/skip")}
        env = {e["name"] for c in obj["spec"]["template"]["spec"]["containers"] for e in c.get("env", [])}
        structural = ({"CKV_K8S_35"} if "VLLM_API_KEY" in env else set()) | (
            {"CKV_K8S_8", "CKV_K8S_9"} if obj["metadata"]["name"].endswith("template") else set())
        assert set(v.split("=")[0] for v in skips.values()) == structural
        assert "HF_TOKEN" not in env and "HF_TOKEN_PATH" in env
        pod = obj["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
        container = pod["containers"][0]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["resources"]["limits"]["cpu"] == container["resources"]["requests"]["cpu"]
    assert _failures(_scan(tmp_path, objs)) == []


def test_the_scan_fails_without_the_opt_outs(tmp_path):
    """The control: the same objects without their skip annotations fail exactly the opted-out checks."""
    objs = _objects()
    for obj in objs:
        ann = obj["metadata"].get("annotations") or {}
        for key in [k for k in ann if k.startswith("checkov.io/skip")]:
            del ann[key]
    failed = {check for check, _res in _failures(_scan(tmp_path, objs))}
    assert failed == {check for check, _applies, _reason in manifests.SCANNER_OPT_OUTS}
