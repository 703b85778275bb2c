# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure decisions of the apply-set: which objects to create, update, leave or remove.

No API calls here (the k8s_apply_set module does them): objects are plain dicts as the API returns them.
An object is unchanged when its server-side dry-run result equals the live object, ignoring what the
server bumps on every write (resourceVersion, managedFields timestamps, generation) and status (owned
by controllers, changes on its own).

The no-change path: every object is written with an annotation holding the hash of what was applied
(``stamp``). An object whose live copy carries the same hash and still holds every field and value of the
manifest (``unchanged_live``) would be left exactly as it is by a server-side apply, so it needs neither the
dry run nor the write: a re-run that changes nothing costs one LIST per kind. Anything else (a changed or
removed field of ours, someone else's edit of a field we set, a value the server normalises) takes the dry run
and the comparison below, as before; every object that will be written is still dry-run first.
"""

from __future__ import annotations

import copy
import hashlib
import json

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError

APPLIED_HASH = "llmops.io/applied-hash"
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


def applied_hash(obj):
    """Hash of a manifest as given (without its own hash annotation)."""
    body = copy.deepcopy(obj)
    ann = (body.get("metadata") or {}).get("annotations") or {}
    ann.pop(APPLIED_HASH, None)
    if "annotations" in (body.get("metadata") or {}) and not ann:
        body["metadata"].pop("annotations")
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()[:20]


def stamp(obj):
    """A copy of the manifest carrying the hash of what is applied (annotation ``llmops.io/applied-hash``).

    Secrets are left as they are: a hash of their data on the object would let anyone who reads it test
    guesses of the values offline (they always take the dry run).
    """
    if obj.get("kind") == "Secret":
        return obj
    out = copy.deepcopy(obj)
    meta = out.setdefault("metadata", {})
    meta["annotations"] = dict(meta.get("annotations") or {}, **{APPLIED_HASH: applied_hash(obj)})
    return out


def contains(live, desired):
    """Every field and value of ``desired`` is in ``live`` (lists: same length, item by item)."""
    if isinstance(desired, dict):
        return isinstance(live, dict) and all(k in live and contains(live[k], v) for k, v in desired.items())
    if isinstance(desired, list):
        return isinstance(live, list) and len(live) == len(desired) and all(
            contains(a, b) for a, b in zip(live, desired))
    return type(live) is type(desired) and live == desired


def unchanged_live(stamped, live):
    """True when a server-side apply of ``stamped`` (a ``stamp`` result) would leave ``live`` as it is."""
    if live is None or (live.get("metadata") or {}).get("deletionTimestamp"):
        return False
    want = ((stamped.get("metadata") or {}).get("annotations") or {}).get(APPLIED_HASH)
    have = ((live.get("metadata") or {}).get("annotations") or {}).get(APPLIED_HASH)
    return bool(want) and want == have and contains(live, stamped)
