#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: k8s_read_set
short_description: Read several sets of Kubernetes objects in one call (one client, one discovery), Secrets as key names only
version_added: 0.2.0
author: llmops contributors (@llmops)
description:
  - Runs every query of O(queries) (a GET by name, or a LIST with label and field selectors) with one API
    client, concurrently, and returns the objects per query name. It replaces a row of
    C(kubernetes.core.k8s_info) tasks, each of which starts a Python process, builds a client and reads API
    discovery again.
  - A kind whose API is not served (its CRD is not installed) and an object that does not exist give an
    empty list, not an error.
  - Secrets are never returned with their values; C(data) holds the key names mapped to an empty string
    whatever O(queries[].fields) says, so a Secret's content cannot reach the output or a registered variable.
  - Read-only; check mode and diff change nothing about what it does.
options:
  queries:
    description: The reads.
    type: list
    elements: dict
    required: true
    suboptions:
      id:
        description: Key of this query's result in RV(found).
        type: str
        required: true
      api_version:
        description: API version, e.g. C(v1), C(apps/v1).
        type: str
        default: v1
      kind:
        description: Kind, e.g. C(Node), C(Deployment).
        type: str
        required: true
      name:
        description: Read one object by name (empty list when it does not exist).
        type: str
      namespace:
        description: Namespace of namespaced kinds; unset lists across all namespaces.
        type: str
      label_selectors:
        description: Label selectors, ANDed (as in C(kubernetes.core.k8s_info)).
        type: list
        elements: str
        default: []
      field_selectors:
        description: Field selectors, ANDed.
        type: list
        elements: str
        default: []
      fields:
        description:
          - C(full) returns the objects; C(names) only C(metadata.name) and C(metadata.namespace) (for large
            objects such as CRDs whose presence is all that matters).
        type: str
        choices: [full, names]
        default: full
      keep:
        description:
          - Return only these fields of each object (with C(apiVersion) and C(kind)), dotted paths such as
            C(metadata.labels) or C(status.allocatable); C(name[]) walks every item of a list
            (C(spec.containers[].resources), quoted in YAML flow lists). Absent fields are left out. Empty keeps what O(queries[].fields) says.
          - For reads of many large objects (every Node, every Pod) whose few fields are all the caller needs.
        type: list
        elements: str
        default: []
  concurrency:
    description: Queries in flight at once.
    type: int
    default: 8
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - llmops.vllm_serving._attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
requirements:
  - kubernetes >= 24.2.0 (Python)
"""

EXAMPLES = r"""
- name: Read what the plan needs
  llmops.vllm_serving.k8s_read_set:
    queries:
      - {id: nodes, kind: Node, keep: [metadata.name, metadata.labels, spec.taints, status.allocatable]}
      - {id: pods, kind: Pod, field_selectors: [status.phase!=Succeeded, status.phase!=Failed]}
      - {id: secret, kind: Secret, name: hf-token, namespace: llm-serving}
      - {id: keda, api_version: apiextensions.k8s.io/v1, kind: CustomResourceDefinition, name: scaledobjects.keda.sh,
         fields: names}
  register: __read   # __read.found.nodes, __read.found.keda
"""

RETURN = r"""
found:
  description: Query id to the list of objects read (empty when none, or when the kind is not served).
  returned: always
  type: dict
  sample: {"nodes": [{"metadata": {"name": "gpu-h100-0"}}], "secret": [], "keda": []}
served:
  description: Query id to whether the API serves its kind.
  returned: always
  type: dict
"""

import traceback
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.llmops.vllm_serving.plugins.module_utils._k8s.project import project

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
    from kubernetes.client.rest import ApiException
    from kubernetes.dynamic.exceptions import DynamicApiError, ResourceNotFoundError
    HAS_K8S = True
    K8S_IMPORT_ERROR = None
except ImportError:
    HAS_K8S = False
    K8S_IMPORT_ERROR = traceback.format_exc()


def _redact(obj):
    """A Secret with key names only: values never leave the module."""
    if obj.get("kind") == "Secret":
        obj = dict(obj)
        keys = list((obj.get("data") or {}).keys()) + list((obj.get("stringData") or {}).keys())
        obj["data"] = dict.fromkeys(keys, "")
        obj.pop("stringData", None)
        meta = dict(obj.get("metadata") or {})
        annotations = dict(meta.get("annotations") or {})
        annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
        meta["annotations"] = annotations
        obj["metadata"] = meta
    return obj


def _shape(obj, fields):
    if fields == "names":
        meta = obj.get("metadata") or {}
        return {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
                "metadata": {k: meta[k] for k in ("name", "namespace") if k in meta}}
    return _redact(obj)


def read(client, query):
    """(objects, served) of one query."""
    try:
        resource = client.resource(query["kind"], query["api_version"])
    except ResourceNotFoundError:
        return [], False
    kwargs = {}
    if query.get("namespace") and resource.namespaced:
        kwargs["namespace"] = query["namespace"]
    if query.get("label_selectors"):
        kwargs["label_selector"] = ",".join(query["label_selectors"])
    if query.get("field_selectors"):
        kwargs["field_selector"] = ",".join(query["field_selectors"])
    try:
        if query.get("name"):
            found = [resource.get(name=query["name"], **kwargs).to_dict()]
        else:
            listed = resource.get(**kwargs).to_dict()
            kind = query["kind"]
            found = []
            for item in listed.get("items") or []:
                item.setdefault("apiVersion", query["api_version"])
                item.setdefault("kind", kind)
                found.append(item)
    except DynamicApiError as err:
        if getattr(err, "status", None) == 404:
            return [], True
        raise
    shaped = [_shape(obj, query.get("fields") or "full") for obj in found]
    if query.get("keep"):
        shaped = [project(obj, query["keep"]) for obj in shaped]
    return shaped, True


def main():
    spec = dict(
        queries=dict(type="list", elements="dict", required=True, options=dict(
            id=dict(type="str", required=True),
            api_version=dict(type="str", default="v1"),
            kind=dict(type="str", required=True),
            name=dict(type="str"),
            namespace=dict(type="str"),
            label_selectors=dict(type="list", elements="str", default=[]),
            field_selectors=dict(type="list", elements="str", default=[]),
            fields=dict(type="str", choices=["full", "names"], default="full"),
            keep=dict(type="list", elements="str", default=[]),
        )),
        concurrency=dict(type="int", default=8),
    )
    spec.update(AUTH_ARG_SPEC)
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    if not HAS_K8S:
        module.fail_json(msg=missing_required_lib("kubernetes and the kubernetes.core collection"),
                         exception=K8S_IMPORT_ERROR)
    queries = module.params["queries"]
    ids = [q["id"] for q in queries]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        module.fail_json(msg="query ids must be unique; used more than once: %s" % ", ".join(duplicates))
    try:
        client = get_api_client(**{k: module.params.get(k) for k in AUTH_ARG_SPEC})
        # discovery once, before the threads share the client
        client.resource("Namespace", "v1")
        with ThreadPoolExecutor(max_workers=max(1, module.params["concurrency"])) as pool:
            answers = list(pool.map(lambda q: read(client, q), queries))
    except (DynamicApiError, ApiException) as err:
        module.fail_json(msg="Kubernetes API error: %s" % (getattr(err, "body", None) or err), changed=False)
    except Exception as err:  # noqa: BLE001 - the client raises config errors of several types
        module.fail_json(msg="k8s_read_set failed: %s" % err, exception=traceback.format_exc())
    module.exit_json(changed=False, found={q["id"]: a[0] for q, a in zip(queries, answers)},
                     served={q["id"]: a[1] for q, a in zip(queries, answers)})


if __name__ == "__main__":
    main()
