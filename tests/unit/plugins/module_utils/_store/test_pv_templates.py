"""The model_store role's PV/PVC templates render to the objects each volume type needs (the API-side proof,
claims Bound to their static volumes, is the molecule/model_store_k8s scenario on the test bed)."""

from __future__ import annotations

import json
import os

import jinja2
import pytest
import yaml

ROLE = os.path.abspath(os.path.join(os.path.dirname(__file__), *[".."] * 5, "roles", "model_store"))


def render(name, **overrides):
    with open(os.path.join(ROLE, "defaults", "main.yml")) as fh:
        variables = yaml.safe_load(fh)
    variables.update(overrides)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.join(ROLE, "templates")), undefined=jinja2.StrictUndefined)
    env.filters["to_json"] = json.dumps
    return yaml.safe_load(env.get_template(name).render(**variables))


@pytest.mark.parametrize(
    ("pv_type", "extra", "source_key", "modes"),
    [
        ("nfs", {"model_store_nfs_server": "10.0.0.5", "model_store_nfs_path": "/export/models"}, "nfs", ["ReadOnlyMany"]),
        ("local", {"model_store_pv_node": "gpu-h100-0"}, "local", ["ReadWriteOnce"]),
        ("hostPath", {}, "hostPath", ["ReadWriteOnce"]),
    ],
)
def test_pv_and_pvc_pair(pv_type, extra, source_key, modes):
    pv = render("pv.yaml.j2", model_store_pv_type=pv_type, **extra)
    pvc = render("pvc.yaml.j2", model_store_pv_type=pv_type, **extra)
    spec = pv["spec"]
    assert pv["kind"] == "PersistentVolume" and pvc["kind"] == "PersistentVolumeClaim"
    assert [k for k in ("nfs", "local", "hostPath") if k in spec] == [source_key]
    assert spec["accessModes"] == pvc["spec"]["accessModes"] == modes
    assert spec["storageClassName"] == pvc["spec"]["storageClassName"] == ""
    assert spec["persistentVolumeReclaimPolicy"] == "Retain"
    assert spec["claimRef"] == {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": "vllm", "name": "model-store"}
    assert pvc["spec"]["volumeName"] == pv["metadata"]["name"] == "llmops-model-store"
    assert spec["capacity"]["storage"] == pvc["spec"]["resources"]["requests"]["storage"] == "500Gi"
    if pv_type == "local":
        term = spec["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]
        assert term == {"key": "kubernetes.io/hostname", "operator": "In", "values": ["gpu-h100-0"]}
        assert spec["local"]["path"] == "/srv/models"
    if pv_type == "hostPath":
        assert spec["hostPath"] == {"path": "/srv/models", "type": "Directory"} and "nodeAffinity" not in spec
    if pv_type == "nfs":
        assert spec["nfs"] == {"server": "10.0.0.5", "path": "/export/models"} and "mountOptions" not in spec


def test_overrides_reach_both_objects():
    kw = {
        "model_store_pv_type": "nfs",
        "model_store_nfs_server": "nfs",
        "model_store_nfs_path": "/m",
        "model_store_pv_access_modes": ["ReadWriteMany"],
        "model_store_storage_class": "static",
        "model_store_nfs_mount_options": ["nfsvers=4.1"],
        "model_store_namespace": "serving",
    }
    pv, pvc = render("pv.yaml.j2", **kw), render("pvc.yaml.j2", **kw)
    assert pv["spec"]["accessModes"] == pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    assert pv["spec"]["storageClassName"] == pvc["spec"]["storageClassName"] == "static"
    assert pv["spec"]["mountOptions"] == ["nfsvers=4.1"]
    assert pv["spec"]["claimRef"]["namespace"] == pvc["metadata"]["namespace"] == "serving"
