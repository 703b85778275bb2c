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


# ------------------------------------------------------------------ the no-change path (no dry run, no write)
def _svc(**labels):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "m", "namespace": "ns", "labels": dict(labels)},
            "spec": {"ports": [{"name": "http", "port": 8000}], "selector": {"app": "m"}}}


def _live_of(stamped, **extra):
    """What the API server returns after applying ``stamped``: defaults and server fields added."""
    live = applyset.copy.deepcopy(stamped)
    live["metadata"].update(uid="u1", resourceVersion="7", managedFields=[{"manager": "llmops"}])
    live["spec"]["ports"][0].update(protocol="TCP", targetPort=8000)
    live["spec"].update(clusterIP="10.96.0.9", type="ClusterIP", sessionAffinity="None")
    live["status"] = {"loadBalancer": {}}
    live.update(extra)
    return live


def test_an_object_applied_before_and_not_edited_needs_no_dry_run():
    stamped = applyset.stamp(_svc(a="1"))
    assert stamped["metadata"]["annotations"][applyset.APPLIED_HASH] == applyset.applied_hash(_svc(a="1"))
    assert applyset.applied_hash(stamped) == applyset.applied_hash(_svc(a="1"))  # the stamp is not hashed
    assert applyset.unchanged_live(stamped, _live_of(stamped))


def test_a_changed_or_removed_field_of_ours_takes_the_dry_run():
    before = applyset.stamp(_svc(a="1", b="2"))
    live = _live_of(before)
    assert not applyset.unchanged_live(applyset.stamp(_svc(a="1", b="3")), live)     # changed value
    assert not applyset.unchanged_live(applyset.stamp(_svc(a="1")), live)            # removed label: new hash
    assert not applyset.unchanged_live(applyset.stamp(_svc(a="1", b="2")), None)     # not there


def test_someone_elses_edit_of_a_field_we_set_takes_the_dry_run():
    stamped = applyset.stamp(_svc(a="1"))
    edited = _live_of(stamped)
    edited["spec"]["selector"] = {"app": "other"}
    assert not applyset.unchanged_live(stamped, edited)
    edited = _live_of(stamped)
    edited["spec"]["ports"].append({"name": "x", "port": 9})   # a list grew
    assert not applyset.unchanged_live(stamped, edited)
    edited = _live_of(stamped)
    edited["metadata"]["deletionTimestamp"] = "2026-12-03T00:00:00Z"
    assert not applyset.unchanged_live(stamped, edited)


def test_contains_is_strict_about_types():
    assert applyset.contains({"a": 1, "b": 2}, {"a": 1})
    assert not applyset.contains({"a": "1"}, {"a": 1})
    assert not applyset.contains({"a": True}, {"a": 1})
    assert applyset.contains({"l": [{"x": 1, "y": 2}]}, {"l": [{"x": 1}]})


def test_secrets_carry_no_hash_of_their_data_and_always_take_the_dry_run():
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "k", "namespace": "ns"},
              "stringData": {"api-key": "hunter2"}}
    stamped = applyset.stamp(secret)
    assert "annotations" not in stamped["metadata"]
    assert not applyset.unchanged_live(stamped, dict(secret, data={"api-key": "aHVudGVyMg=="}))
