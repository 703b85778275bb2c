# -*- coding: utf-8 -*-
"""The apply-set's pure decisions (the API side is tested on the bed by the vllm_deploy scenarios)."""

import pytest

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._k8s import applyset

DEPLOY = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "m1", "namespace": "ns"},
          "spec": {"replicas": 1}}


def test_unchanged_ignores_what_every_write_bumps():
    live = dict(DEPLOY, metadata=dict(DEPLOY["metadata"], resourceVersion="1", generation=1,
                                      managedFields=[{"time": "t1"}]), status={"readyReplicas": 1})
    dry = dict(DEPLOY, metadata=dict(DEPLOY["metadata"], resourceVersion="1", generation=1,
                                     managedFields=[{"time": "t2"}]), status={"readyReplicas": 0})
    assert applyset.action_for(live, dry) == "unchanged"
    assert applyset.action_for(live, dict(dry, spec={"replicas": 2})) == "update"
    assert applyset.action_for(None, dry) == "create"


def test_prune_keeps_what_the_set_holds():
    keys = applyset.check_objects([DEPLOY])
    other = dict(DEPLOY, metadata={"name": "m2", "namespace": "ns"})
    going = dict(DEPLOY, metadata={"name": "m3", "namespace": "ns", "deletionTimestamp": "now"})
    assert applyset.prune_list([DEPLOY, other, going], keys) == [other]


def test_set_must_name_each_object_once():
    with pytest.raises(LlmopsError, match="Deployment ns/m1 appears twice"):
        applyset.check_objects([DEPLOY, DEPLOY])
    with pytest.raises(LlmopsError, match=r"objects\[0\] \(Service\) has no metadata.name"):
        applyset.check_objects([{"apiVersion": "v1", "kind": "Service", "metadata": {}}])


def test_namespaces_go_first_and_secrets_are_redacted():
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}}
    assert applyset.apply_order([DEPLOY, ns])[0] is ns
    secret = {"kind": "Secret", "data": {"token": "c2VjcmV0"}}
    assert applyset.redact(secret)["data"] == {"token": "<redacted>"} and secret["data"]["token"] == "c2VjcmV0"
