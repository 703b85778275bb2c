"""The chart archives vendored in hack/testbed/charts are the real upstream ones: their SHA-256 sums match
SHA256SUMS, every archive there is listed (and every listed one is there), and where ../shared/charts (the source
they were copied from) is present they are byte for byte identical to it."""

import hashlib
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
CHARTS = ROOT / "hack" / "testbed" / "charts"
SHARED = Path(os.environ.get("LLMOPS_CHARTS_DIR") or ROOT.parent / "shared" / "charts")


def sums():
    listed = {}
    for line in (CHARTS / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        listed[name] = digest
    return listed


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_archive_is_listed_and_matches_its_sum():
    listed = sums()
    assert listed, "SHA256SUMS lists no archive"
    assert sorted(p.name for p in CHARTS.glob("*.tgz")) == sorted(listed)
    for name, digest in listed.items():
        assert sha256(CHARTS / name) == digest, "%s differs from SHA256SUMS" % name


@pytest.mark.parametrize("name", sorted(sums()))
def test_identical_to_the_shared_mirror(name):
    source = SHARED / name
    if not source.is_file():
        pytest.skip("%s absent (no ../shared/charts here): only the sums are checked" % source)
    assert sha256(source) == sha256(CHARTS / name)
