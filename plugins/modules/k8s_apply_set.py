#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: k8s_apply_set
short_description: Validate a whole set of Kubernetes objects by server-side dry run, then apply it and prune what it no longer holds
version_added: 0.2.0
author: llmops contributors (@llmops)
description:
  - Every object of O(objects) is first sent as a server-side apply with C(dryRun=All), so the API server
    (schemas, admission, CRD validation) judges all of them before any is written. One refusal fails the
    task with every refusal listed, and nothing is changed.
  - Then objects whose dry-run result differs from the live object are applied (server-side apply, field
    manager O(field_manager)); unchanged objects are not written, so a run that changes nothing reports
    C(changed=false).
  - Each object is written with the annotation C(llmops.io/applied-hash) (the hash of the manifest). An object
    whose live copy carries the same hash and still holds every field and value of the manifest is unchanged
    without a dry run (a server-side apply would leave it as it is); an edit of a field we set, or a changed
    manifest, takes the dry run and the comparison. Every object that is written is dry-run first.
  - With O(prune), live objects of the given kinds that carry the given labels and are not in the set are
    deleted (an autoscaler a model no longer uses, a model removed from the list). Objects without those
    labels are never touched.
  - Objects in a Namespace that the set creates cannot be dry-run in it before it exists; they are dry-run
    in O(dry_run_namespace) instead (validation only).
  - Check mode runs the dry run and reports what would be created, updated and deleted; with C(--diff)
    each changed object's before and after are shown (Secret data redacted).
options:
  objects:
    description: Manifests (dicts with apiVersion, kind, metadata.name and, for namespaced kinds, metadata.namespace).
    type: list
    elements: dict
    required: true
  field_manager:
    description: Server-side apply field manager.
    type: str
    required: true
  force_conflicts:
    description: Take over fields another manager set (server-side apply C(force=true)).
    type: bool
    default: true
  prune:
    description: Remove live objects of O(prune.kinds) matching O(prune.labels) in the set's namespaces (and
      O(prune.namespaces)) that the set does not contain. Kinds whose API is not served are skipped; objects a controller owns (an
      ownerReference with controller true, such as the HPA KEDA makes for a ScaledObject) are never pruned.
    type: dict
    suboptions:
      labels:
        description: Labels every object to prune carries (the owner selector); must not be empty.
        type: dict
        required: true
      kinds:
        description: The kinds the owner creates.
        type: list
        elements: dict
        required: true
      namespaces:
        description: Namespaces to look in besides those of O(objects).
        type: list
        elements: str
        default: []
  dry_run_namespace:
    description: Existing namespace in which objects of a namespace the set creates are dry-run.
    type: str
    default: default
  check_mode_namespaces:
    description:
      - Namespaces an earlier task of the same run creates (a Helm release with C(create_namespace)). In check
        mode that task created nothing, so objects in these namespaces, when missing, are dry-run in
        O(dry_run_namespace). Outside check mode a missing namespace is refused as always.
    type: list
    elements: str
    default: []
  concurrency:
    description: Requests in flight at once.
    type: int
    default: 8
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - llmops.vllm_serving._attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
requirements:
  - kubernetes >= 24.2.0 (Python)
"""

EXAMPLES = r"""
- name: Apply a model's objects and remove ours it no longer has
  llmops.vllm_serving.k8s_apply_set:
    field_manager: llmops-vllm-deploy
    objects: "{{ manifests }}"
    prune:
      labels: {app.kubernetes.io/managed-by: llmops.vllm_serving, app.kubernetes.io/instance: vllm}
      kinds:
        - {api_version: autoscaling/v2, kind: HorizontalPodAutoscaler}
        - {api_version: keda.sh/v1alpha1, kind: ScaledObject}
"""

RETURN = r"""
objects:
  description: One entry per object of the set and per pruned object, with what was (or in check mode would be) done.
  returned: always
  type: list
  elements: dict
  sample: [{"api_version": "apps/v1", "kind": "Deployment", "namespace": "llm-serving", "name": "llama-8b", "action": "update"}]
counts:
  description:
    - Objects per action (create, update, unchanged, delete), and C(dry_run) the objects that needed the
      server-side dry run (the others were unchanged since the last apply).
  returned: always
  type: dict
  sample: {"create": 0, "update": 1, "unchanged": 8, "delete": 1, "dry_run": 1}
"""

import json
import traceback
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._k8s import applyset

# the auth options (pure Python) are kubernetes.core's own, as in its k8s module; the client needs the
# kubernetes library, which may be missing on the controller: then the module fails saying so
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
    from kubernetes.client.rest import ApiException
    from kubernetes.dynamic.exceptions import DynamicApiError, ResourceNotFoundError
    HAS_K8S = True
    K8S_IMPORT_ERROR = None
except ImportError:
    HAS_K8S = False
    K8S_IMPORT_ERROR = traceback.format_exc()


def _message(err):
    """The API server's own message from a refused request."""
    body = getattr(err, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        return json.loads(body)["message"]
    except (TypeError, ValueError, KeyError):
        return str(body) if body else str(err)


def _status(err):
    return getattr(err, "status", None)


class ApplySet(object):
    def __init__(self, module, client):
        self.module = module
        self.k8s = client
        self.dyn = client.client
        self.params = module.params
        self._resources = {}

    def resource(self, api_version, kind):
        key = (api_version, kind)
        if key not in self._resources:
            try:
                self._resources[key] = self.k8s.resource(kind, api_version)
            except ResourceNotFoundError:
                self._resources[key] = None
        return self._resources[key]

    def pool(self, func, items):
        with ThreadPoolExecutor(max_workers=max(1, self.params["concurrency"])) as pool:
            return list(pool.map(func, items))

    def namespace_exists(self, name):
        try:
            self.resource("v1", "Namespace").get(name=name)
            return True
        except DynamicApiError as err:
            if _status(err) == 404:
                return False
            raise

    def list_scope(self, resource, scope):
        """{key: live object} of one kind in one namespace (or cluster-wide for cluster-scoped kinds)."""
        api_version, kind, namespace = scope
        try:
            listed = resource.get(namespace=namespace or None).to_dict()
        except DynamicApiError as err:
            if _status(err) == 404:
                return {}
            raise
        out = {}
        for item in listed.get("items") or []:
            meta = item.get("metadata") or {}
            item = dict(item, apiVersion=api_version, kind=kind)
            out[(api_version, kind, meta.get("namespace") or "", meta.get("name"))] = item
        return out

    def ssa(self, resource, obj, dry_run):
        kwargs = {"field_manager": self.params["field_manager"], "force_conflicts": self.params["force_conflicts"]}
        if dry_run:
            kwargs["dry_run"] = "All"
        namespace = (obj.get("metadata") or {}).get("namespace") if resource.namespaced else None
        return self.dyn.server_side_apply(resource, body=obj, namespace=namespace, **kwargs).to_dict()

    def run(self):
        objects = self.params["objects"]
        keys = applyset.check_objects(objects)
        problems = []
        resources = {}
        for key in keys:
            res = self.resource(key[0], key[1])
            if res is None:
                problems.append("%s: the cluster does not serve %s %s; install the CRD or operator that provides "
                                "it, or turn the feature that renders it off" % (applyset.label(key), key[0], key[1]))
            elif res.namespaced and not key[2]:
                problems.append("%s: %s is namespaced; set metadata.namespace" % (applyset.label(key), key[1]))
            resources[key] = res
        if problems:
            raise LlmopsError("; ".join(problems))
        created_ns = {k[3] for k in keys if k[1] == "Namespace" and k[0] == "v1"}
        used_ns = sorted({k[2] for k in keys if k[2]})
        exists = dict(zip(used_ns, self.pool(self.namespace_exists, used_ns)))
        later = set(self.params["check_mode_namespaces"]) if self.module.check_mode else set()
        missing = [ns for ns in used_ns if not exists[ns] and ns not in created_ns and ns not in later]
        if missing:
            raise LlmopsError("namespace(s) %s do not exist and the set does not create them; create them first "
                              "or add the Namespace objects" % ", ".join(missing))
        fallback = self.params["dry_run_namespace"]
        # the live objects: one LIST per kind and namespace instead of one GET per object
        scopes = sorted({(k[0], k[1], k[2]) for k in keys if not k[2] or exists[k[2]]})
        lived = {}
        for listed in self.pool(lambda scope: self.list_scope(self.resource(scope[0], scope[1]), scope), scopes):
            lived.update(listed)

        def dry_run(pair):
            key, obj = pair
            res = resources[key]
            body = obj
            if key[2] and not exists[key[2]]:
                body = dict(obj, metadata=dict(obj["metadata"], namespace=fallback))
            try:
                live = lived.get(key)
                return key, live, self.ssa(res, body, dry_run=True), None
            except DynamicApiError as err:
                return key, None, None, _message(err)
        # unchanged since our last apply and not edited since: no dry run, no write (see applyset)
        objects = [applyset.stamp(o) for o in objects]
        fast = {key for key, obj in zip(keys, objects) if applyset.unchanged_live(obj, lived.get(key))}
        checked = self.pool(dry_run, [(k, o) for k, o in zip(keys, objects) if k not in fast])
        checked += [(key, lived[key], lived[key], None) for key in keys if key in fast]
        refused = ["%s: %s" % (applyset.label(key), msg) for key, _l, _d, msg in checked if msg]
        if refused:
            raise LlmopsError("the API server refused %d of %d object(s) in a server-side dry run, so nothing was "
                              "changed: - %s" % (len(refused), len(keys), " - ".join(refused)))

        results, diffs = [], []
        todo = []
        by_key = dict(zip(keys, objects))
        for key, live, dry, _msg in checked:
            action = applyset.action_for(live, dry)
            results.append(self._row(key, action))
            if action != "unchanged":
                todo.append(key)
                diffs.append(self._diff(key, live, dry))

        pruned = self.prune_candidates(keys, used_ns)
        for key, live in pruned:
            results.append(self._row(key, "delete"))
            diffs.append(self._diff(key, live, None))

        if not self.module.check_mode:
            ordered = applyset.apply_order([by_key[k] for k in todo])
            first = [o for o in ordered if o.get("kind") == "Namespace"]
            rest = [o for o in ordered if o.get("kind") != "Namespace"]
            for obj in first:
                self.ssa(resources[applyset.key_of(obj)], obj, dry_run=False)
            self.pool(lambda o: self.ssa(resources[applyset.key_of(o)], o, dry_run=False), rest)
            self.pool(self.delete, pruned)

        counts = {a: sum(1 for r in results if r["action"] == a) for a in ("create", "update", "unchanged", "delete")}
        counts["dry_run"] = len(keys) - len(fast)   # objects that needed the server-side dry run
        changed = bool(todo or pruned)
        out = {"changed": changed, "objects": results, "counts": counts}
        if self.module._diff:
            out["diff"] = diffs
        return out

    def prune_candidates(self, keys, used_ns):
        spec = self.params.get("prune")
        if not spec:
            return []
        labels = spec.get("labels") or {}
        if not labels:
            raise LlmopsError("prune.labels is empty: pruning without an owner selector would remove objects "
                              "that are not ours; give the labels every object of the set carries")
        selector = ",".join("%s=%s" % (k, v) for k, v in sorted(labels.items()))
        namespaces = sorted(set(used_ns) | set(spec.get("namespaces") or []))
        out = []
        wanted = set(keys)
        for kind in spec.get("kinds") or []:
            api_version, kind_name = kind.get("api_version") or kind.get("apiVersion"), kind.get("kind")
            res = self.resource(api_version, kind_name)
            if res is None:
                continue
            scopes = namespaces if res.namespaced else [None]
            for ns in scopes:
                try:
                    listed = res.get(namespace=ns, label_selector=selector).to_dict()
                except DynamicApiError as err:
                    if _status(err) == 404:
                        continue
                    raise
                for item in listed.get("items") or []:
                    meta = item.get("metadata") or {}
                    if meta.get("deletionTimestamp"):
                        continue
                    # a controller made it (KEDA's HPA of a ScaledObject copies the ScaledObject's labels): it is
                    # the controller's to keep or remove, never ours to prune
                    if any(ref.get("controller") for ref in meta.get("ownerReferences") or []):
                        continue
                    key = (api_version, kind_name, meta.get("namespace") or "", meta.get("name"))
                    if key not in wanted:
                        out.append((key, dict(item, apiVersion=api_version, kind=kind_name)))
        return out

    def delete(self, pair):
        key, _live = pair
        res = self.resource(key[0], key[1])
        try:
            res.delete(name=key[3], namespace=key[2] or None, propagation_policy="Background")
        except DynamicApiError as err:
            if _status(err) != 404:
                raise

    @staticmethod
    def _row(key, action):
        return {"api_version": key[0], "kind": key[1], "namespace": key[2], "name": key[3], "action": action}

    @staticmethod
    def _diff(key, before, after):
        return {"before_header": applyset.label(key), "after_header": applyset.label(key),
                "before": applyset.comparable(applyset.redact(before)) or {},
                "after": applyset.comparable(applyset.redact(after)) or {}}


def main():
    spec = dict(
        objects=dict(type="list", elements="dict", required=True),
        field_manager=dict(type="str", required=True),
        force_conflicts=dict(type="bool", default=True),
        prune=dict(type="dict", options=dict(
            labels=dict(type="dict", required=True),
            kinds=dict(type="list", elements="dict", required=True),
            namespaces=dict(type="list", elements="str", default=[]),
        )),
        dry_run_namespace=dict(type="str", default="default"),
        check_mode_namespaces=dict(type="list", elements="str", default=[]),
        concurrency=dict(type="int", default=8),
    )
    spec.update(AUTH_ARG_SPEC)
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    if not HAS_K8S:
        module.fail_json(msg=missing_required_lib("kubernetes and the kubernetes.core collection"),
                         exception=K8S_IMPORT_ERROR)
    try:
        client = get_api_client(**{k: module.params.get(k) for k in AUTH_ARG_SPEC})
        module.exit_json(**ApplySet(module, client).run())
    except LlmopsError as err:
        module.fail_json(msg=str(err), changed=False)
    except (DynamicApiError, ApiException) as err:
        module.fail_json(msg="Kubernetes API error: %s" % _message(err), changed=False)
    except Exception as err:  # noqa: BLE001 - the client raises config errors of several types
        module.fail_json(msg="k8s_apply_set failed: %s" % err, exception=traceback.format_exc())


if __name__ == "__main__":
    main()
