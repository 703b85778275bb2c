# -*- coding: utf-8 -*-
# Copyright: (c) 2026, llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deep merge shared by the pure core (containerd configs, Helm values)."""

from __future__ import annotations

import copy


def deep_merge(base, over):
    """Return ``base`` with ``over`` merged in: dicts merge recursively, everything else is replaced (copies)."""
    out = copy.deepcopy(base)
    for key, value in (over or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out
