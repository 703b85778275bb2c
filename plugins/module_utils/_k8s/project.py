# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keep only the fields a caller reads from an API object (k8s_read_set's ``keep``).

A Node's status (images, conditions, addresses) or a Pod's full spec is most of what a LIST returns;
a caller that needs a few fields of hundreds of objects keeps those and passes far less through Ansible.
Paths are dotted (``metadata.labels``, ``status.allocatable``); ``name[]`` walks every item of a list
(``spec.containers[].resources``). A path that is absent is left out, never invented.
"""

from __future__ import annotations

_MISSING = object()


def _get(obj, parts):
    if not parts:
        return obj
    head, rest = parts[0], parts[1:]
    if not isinstance(obj, dict):
        return _MISSING
    if head.endswith("[]"):
        items = obj.get(head[:-2], _MISSING)
        if not isinstance(items, list):
            return _MISSING
        kept = []
        for item in items:
            sub = _get(item, rest) if rest else item
            kept.append({} if sub is _MISSING else sub)
        return {head[:-2]: kept}
    value = obj.get(head, _MISSING)
    if value is _MISSING:
        return _MISSING
    sub = _get(value, rest)
    return _MISSING if sub is _MISSING else {head: sub}


def _merge(into, part):
    for key, value in part.items():
        if key in into and isinstance(into[key], dict) and isinstance(value, dict):
            _merge(into[key], value)
        elif key in into and isinstance(into[key], list) and isinstance(value, list):
            for a, b in zip(into[key], value):
                if isinstance(a, dict) and isinstance(b, dict):
                    _merge(a, b)
        else:
            into[key] = value
    return into


def project(obj, paths):
    """``obj`` with only ``paths`` (plus apiVersion and kind)."""
    out = {k: obj[k] for k in ("apiVersion", "kind") if k in obj}
    for path in paths:
        part = _get(obj, [p for p in str(path).split(".") if p])
        if part is not _MISSING:
            _merge(out, part)
    return out
