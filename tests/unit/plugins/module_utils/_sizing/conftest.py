"""Shared helpers for the sizing core tests: real config.json fixtures by name."""

from __future__ import annotations

import json
import os

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", ".."))
CONFIGS = os.path.join(ROOT, "tests", "fixtures", "model_configs")


def load(name):
    with open(os.path.join(CONFIGS, name, "config.json"), encoding="utf-8") as handle:
        return json.load(handle)


@pytest.fixture
def cfg():
    return load
