"""The vendored CRDs in hack/testbed/crds/ are exactly what hack/testbed/vendor-crds.py makes of the real charts."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
SCRIPT = ROOT / "hack" / "testbed" / "vendor-crds.py"


def _load():
    spec = importlib.util.spec_from_file_location("vendor_crds", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


vendor = _load()


@pytest.fixture(scope="module")
def helm():
    try:
        return vendor.helm_binary()
    except vendor.VendorError as err:
        pytest.skip("cannot regenerate the vendored CRDs: %s" % err)


@pytest.mark.parametrize("name", sorted(vendor.CHARTS))
def test_vendored_file_is_what_the_chart_gives(name, helm):
    archive = vendor.charts_dir() / vendor.CHARTS[name][0]
    if not archive.is_file():
        pytest.skip("chart archive %s absent (../shared/charts not here; set LLMOPS_CHARTS_DIR): "
                    "the vendored file is used as committed" % archive)
    path = vendor.OUT_DIR / ("%s.yaml" % name)
    assert path.is_file(), "%s missing: run python3 hack/testbed/vendor-crds.py" % path
    assert path.read_text() == vendor.render(name, helm=helm), "%s is stale: run python3 hack/testbed/vendor-crds.py" % path


@pytest.mark.parametrize("name", sorted(vendor.CHARTS))
def test_vendored_file_names_its_chart_and_holds_only_crds(name):
    text = (vendor.OUT_DIR / ("%s.yaml" % name)).read_text()
    archive = vendor.CHARTS[name][0]
    version = re.search(r"-v?(\d+\.\d+\.\d+)\.tgz$", archive).group(1)
    header = text.split("\n---\n", 1)[0]
    assert re.match(r"# Real CRDs of the %s chart v?%s, vendored by hack/testbed/vendor-crds.py" % (re.escape(name), re.escape(version)),
                    header)
    docs = vendor.crd_documents(text)
    declared = int(re.search(r"^# (\d+) CRDs: ", header, re.MULTILINE).group(1))
    assert len(docs) == declared == text.count("\n---\n")


# the kinds the collection creates or reads must be among the vendored CRDs
@pytest.mark.parametrize("name, crd", [
    ("gpu-operator", "clusterpolicies.nvidia.com"),
    ("gpu-operator", "nvidiadrivers.nvidia.com"),
    ("gpu-operator", "nodefeaturerules.nfd.k8s-sigs.io"),
    ("keda", "scaledobjects.keda.sh"),
    ("keda", "triggerauthentications.keda.sh"),
    ("kube-prometheus-stack", "servicemonitors.monitoring.coreos.com"),
    ("kube-prometheus-stack", "podmonitors.monitoring.coreos.com"),
    ("kube-prometheus-stack", "prometheusrules.monitoring.coreos.com"),
    ("kube-prometheus-stack", "prometheuses.monitoring.coreos.com"),
    ("lws", "leaderworkersets.leaderworkerset.x-k8s.io"),
])
def test_collection_kinds_are_vendored(name, crd):
    header = (vendor.OUT_DIR / ("%s.yaml" % name)).read_text().split("\n---\n", 1)[0]
    assert crd in re.search(r"^# \d+ CRDs: (.*)$", header, re.MULTILINE).group(1).split(", ")


def test_crd_documents_keeps_only_crds():
    rendered = "---\n# Source: a/crds/x.yaml\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: xs.example.com\n" \
               "---\n# Source: a/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n---\n"
    docs = vendor.crd_documents(rendered)
    assert docs == ["# Source: a/crds/x.yaml\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: xs.example.com"]


def test_missing_chart_is_a_clear_error(tmp_path):
    with pytest.raises(vendor.VendorError, match=r"keda: chart archive .*keda-2.20.2.tgz not found \(set LLMOPS_CHARTS_DIR\)"):
        vendor.render("keda", chart_dir=tmp_path, helm="/bin/true")
