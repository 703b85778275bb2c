"""CUDA -> minimum driver, from NVIDIA's release notes tables (values copied beside the table in cuda.py)."""

from __future__ import annotations

import pytest

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._gpu import cuda


@pytest.mark.parametrize("driver, cuda_version, status", [
    ("580.159.04", "12.9", "pass"),      # the real H200 host
    ("580.159.04", "13.0", "pass"),
    ("580.65.06", "13.0", "pass"),       # exactly Table 3's 13.0 GA driver
    ("580.65.05", "13.0", "fail"),       # one below: R580 is also the 13.x minor-compat floor
    ("580.82.06", "13.0.1", "warn"),     # below 13.0 Update 1's 580.82.07, above the 13.x minor-compat floor 580.65.06
    ("535.261.03", "12.9", "warn"),      # Debian bookworm's driver: runs CUDA 12.9 only through minor version compatibility
    ("575.51.03", "12.9", "pass"),
    ("575.51.02", "12.9", "warn"),
    ("525.60.13", "12.8.1", "warn"),
    ("525.60.12", "12.8", "fail"),
    ("470.256.02", "12.0", "fail"),
    ("520.61.05", "11.8", "pass"),
])
def test_check_driver(driver, cuda_version, status):
    assert cuda.check_driver(driver, cuda_version)[0] == status


@pytest.mark.parametrize("given, key", [("12.9", "12.9"), ("12.9.0", "12.9"), ("12.9.1", "12.9.1"), ("12.8.1-cudnn", "12.8.1")])
def test_toolkit_key(given, key):
    assert cuda.toolkit_key(given) == key


def test_unknown_update_falls_back_to_minor():
    assert cuda.driver_requirement("12.9.7")["full_driver"] == "575.51.03"


@pytest.mark.parametrize("bad, needle", [("twelve", "is not a CUDA version"), ("10.2", "not in the CUDA->driver table; known: 11.8, 12.0")])
def test_bad_cuda_version(bad, needle):
    with pytest.raises(LlmopsError, match=needle):
        cuda.driver_requirement(bad)


def test_bad_driver_version():
    with pytest.raises(LlmopsError, match="driver_version='580.x' is not a dotted version"):
        cuda.check_driver("580.x", "12.9")


def test_table_is_monotonic():
    keys = sorted(cuda.TOOLKIT_DRIVER, key=cuda.version_tuple)
    drivers = [cuda.version_tuple(cuda.TOOLKIT_DRIVER[k]) for k in keys]
    assert drivers == sorted(drivers)
