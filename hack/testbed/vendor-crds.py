"""Vendor the REAL CRDs of the real upstream charts into hack/testbed/crds/<chart>.yaml.

The test bed applies these files (server-side) so that objects the collection creates are checked
against the schemas the real operators install, also where ../shared/charts is absent.

Each file holds every CustomResourceDefinition that ``helm install`` of the chart with its default
values would create (its ``crds/`` directories, subcharts included, and CRDs it renders from
templates), taken from ``helm template --include-crds`` in helm's order, byte for byte.

    python3 hack/testbed/vendor-crds.py            # (re)write the vendored files from ../shared/charts
    python3 hack/testbed/vendor-crds.py --check    # exit 1 when a vendored file differs from what the charts give

Charts: $LLMOPS_CHARTS_DIR, else <repo>/../shared/charts. Helm: $HELM, else helm on PATH, else
~/.cache/llmops-vllm-serving/bin/current/helm (hack/testbed.sh build).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT_DIR = ROOT / "hack" / "testbed" / "crds"
KUBE_VERSION = "1.35.4"

#: vendored file name -> (chart archive in the charts dir, release name, namespace, extra helm args)
CHARTS = {
    "gpu-operator": ("gpu-operator-v26.7.0.tgz", "gpu-operator", "gpu-operator", []),
    "kube-prometheus-stack": ("kube-prometheus-stack-88.5.3.tgz", "kube-prometheus-stack", "monitoring",
                              ["--set", "grafana.enabled=false"]),
    "keda": ("keda-2.20.2.tgz", "keda", "keda", []),
    "lws": ("lws-0.10.0.tgz", "lws", "lws-system", []),
}

_DOC_SPLIT = re.compile(r"^---[ \t]*$", re.MULTILINE)
_CRD_KIND = re.compile(r"^kind:[ \t]*CustomResourceDefinition[ \t]*$", re.MULTILINE)
_CRD_NAME = re.compile(r"^metadata:\n(?:[ \t]+.*\n)*?[ \t]+name:[ \t]*(\S+)", re.MULTILINE)
_CHART_LINE = re.compile(r"^(name|version):[ \t]*(\S+)[ \t]*$", re.MULTILINE)


class VendorError(Exception):
    """A chart or helm is missing, or helm failed."""


def charts_dir():
    return Path(os.environ.get("LLMOPS_CHARTS_DIR") or ROOT.parent / "shared" / "charts")


def helm_binary():
    for cand in (os.environ.get("HELM"), shutil.which("helm"),
                 str(Path.home() / ".cache/llmops-vllm-serving/bin/current/helm")):
        if cand and os.access(cand, os.X_OK):
            return cand
    raise VendorError("no helm binary: set HELM, put helm on PATH, or run hack/testbed.sh build")


def _chart_meta(archive):
    """(name, version) from the Chart.yaml at the top of the archive."""
    import tarfile

    with tarfile.open(archive) as tar:
        member = next(m for m in tar.getmembers() if m.name.count("/") == 1 and m.name.endswith("/Chart.yaml"))
        text = tar.extractfile(member).read().decode()
    found = dict(_CHART_LINE.findall(text))
    return found["name"], found["version"].strip("'\"")


def crd_documents(rendered):
    """The CRD documents of a multi-document helm output, each stripped, in order."""
    docs = []
    for doc in _DOC_SPLIT.split(rendered):
        body = doc.strip("\n")
        if _CRD_KIND.search(body):
            docs.append(body)
    return docs


def render(name, chart_dir=None, helm=None):
    """The text of hack/testbed/crds/<name>.yaml as the chart gives it."""
    archive_name, release, namespace, extra = CHARTS[name]
    archive = Path(chart_dir or charts_dir()) / archive_name
    if not archive.is_file():
        raise VendorError("%s: chart archive %s not found (set LLMOPS_CHARTS_DIR)" % (name, archive))
    cmd = [helm or helm_binary(), "template", release, str(archive), "--namespace", namespace,
           "--include-crds", "--kube-version", KUBE_VERSION] + extra
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise VendorError("%s: %s failed: %s" % (name, " ".join(cmd), proc.stderr.strip()))
    docs = crd_documents(proc.stdout)
    if not docs:
        raise VendorError("%s: helm template gave no CustomResourceDefinition" % name)
    chart, version = _chart_meta(archive)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    names = [m.group(1) for m in (_CRD_NAME.search(d) for d in docs) if m]
    header = [
        "# Real CRDs of the %s chart %s, vendored by hack/testbed/vendor-crds.py: do not edit." % (chart, version),
        "# Source: %s (sha256 %s)," % (archive_name, digest),
        "#   helm template %s <chart> --namespace %s --include-crds --kube-version %s%s" % (
            release, namespace, KUBE_VERSION, "".join(" " + a for a in extra)),
        "# %d CRDs: %s" % (len(docs), ", ".join(names)),
    ]
    return "\n".join(header) + "\n" + "".join("---\n%s\n" % d for d in docs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 on a difference")
    parser.add_argument("charts", nargs="*", help="only these of %s (default: all)" % ", ".join(sorted(CHARTS)))
    args = parser.parse_args(argv)
    unknown = sorted(set(args.charts) - set(CHARTS))
    if unknown:
        parser.error("unknown chart(s) %s; known: %s" % (", ".join(unknown), ", ".join(sorted(CHARTS))))
    stale = []
    try:
        for name in args.charts or sorted(CHARTS):
            text = render(name)
            path = OUT_DIR / ("%s.yaml" % name)
            if args.check:
                if not path.is_file() or path.read_text() != text:
                    stale.append(str(path.relative_to(ROOT)))
                continue
            OUT_DIR.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".yaml.tmp")
            tmp.write_text(text)
            tmp.replace(path)
            print("wrote %s (%d bytes)" % (path.relative_to(ROOT), len(text)))
    except VendorError as err:
        print("vendor-crds: %s" % err, file=sys.stderr)
        return 2
    if stale:
        print("vendor-crds: out of date, run python3 hack/testbed/vendor-crds.py: %s" % ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
