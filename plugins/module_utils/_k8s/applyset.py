# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure decisions of the apply-set: which objects to create, update, leave or remove.

No API calls here (the k8s_apply_set module does them): objects are plain dicts as the API returns them.
An object is unchanged when its server-side dry-run result equals the live object, ignoring what the
server bumps on every write (resourceVersion, managedFields timestamps, generation) and status (owned
by controllers, changes on its own).
"""

from __future__ import annotations

import copy

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError

_VOLATILE_METADATA = ("resourceVersion", "managedFields", "generation", "uid", "creationTimestamp", "selfLink")
# apply order: what others live in first
_FIRST_KINDS = ("Namespace", "CustomResourceDefinition", "ServiceAccount", "ConfigMap", "Secret",
                "PersistentVolumeClaim")


def key_of(obj):
    """(apiVersion, kind, namespace, name) of a manifest; namespace '' for cluster-scoped ones."""
    meta = obj.get("metadata") or {}
    return (obj.get("apiVersion"), obj.get("kind"), meta.get("namespace") or "", meta.get("name"))


def label(key):
    api_version, kind, namespace, name = key
    return "%s %s%s" % (kind, namespace + "/" if namespace else "", name)


def check_objects(objects):
    """Every object names apiVersion, kind and metadata.name, once; returns the keys in order."""
    keys, seen = [], set()
    problems = []
    for index, obj in enumerate(objects):
        if not isinstance(obj, dict):
            problems.append("objects[%d] is not a mapping: %r" % (index, obj))
            continue
        key = key_of(obj)
        missing = [n for n, v in (("apiVersion", key[0]), ("kind", key[1]), ("metadata.name", key[3])) if not v]
        if missing:
            problems.append("objects[%d] (%s) has no %s" % (index, key[1] or "?", ", ".join(missing)))
            continue
        if key in seen:
            problems.append("%s appears twice in the set; each object may appear once" % label(key))
        seen.add(key)
        keys.append(key)
    if problems:
        raise LlmopsError("; ".join(problems))
    return keys


def apply_order(objects):
    """Objects others live in (Namespaces, ...) first, the rest in the given order."""
    rank = {kind: pos for pos, kind in enumerate(_FIRST_KINDS)}
    return sorted(objects, key=lambda o: rank.get(o.get("kind"), len(rank)))


def comparable(obj):
    """The object without the fields every write or controller changes."""
    if obj is None:
        return None
    out = copy.deepcopy(obj)
    out.pop("status", None)
    meta = out.get("metadata") or {}
    for field in _VOLATILE_METADATA:
        meta.pop(field, None)
    return out


def action_for(live, dry_run_result):
    """create | update | unchanged."""
    if live is None:
        return "create"
    return "unchanged" if comparable(live) == comparable(dry_run_result) else "update"


def prune_list(live_objects, desired_keys):
    """Live objects (of the owned kinds, matching the owner selector) the set no longer contains."""
    desired = set(desired_keys)
    out = []
    for obj in live_objects:
        meta = obj.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            continue
        if key_of(obj) not in desired:
            out.append(obj)
    return out


def redact(obj):
    """A copy safe to print: data of Secrets replaced."""
    if obj is None or obj.get("kind") != "Secret":
        return obj
    out = copy.deepcopy(obj)
    for field in ("data", "stringData"):
        if field in out:
            out[field] = {k: "<redacted>" for k in out[field]}
    return out
