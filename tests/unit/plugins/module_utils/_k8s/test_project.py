from ansible_collections.llmops.vllm_serving.plugins.module_utils._k8s.project import project

POD = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "p", "namespace": "ns", "labels": {"a": "1"}, "annotations": {"big": "x" * 100},
                    "managedFields": [{"manager": "kubelet"}]},
       "spec": {"nodeName": "n1", "volumes": [{"name": "v"}],
                "containers": [{"name": "c1", "image": "i", "env": [{"name": "E"}],
                                "resources": {"limits": {"nvidia.com/gpu": "2"}}},
                               {"name": "c2", "image": "j"}]},
       "status": {"phase": "Running", "conditions": [{"type": "Ready"}]}}


def test_keeps_only_the_paths_asked_for():
    out = project(POD, ["metadata.name", "metadata.labels", "spec.nodeName", "spec.containers[].resources",
                        "status.phase"])
    assert out == {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "1"}},
                   "spec": {"nodeName": "n1", "containers": [{"resources": {"limits": {"nvidia.com/gpu": "2"}}}, {}]},
                   "status": {"phase": "Running"}}


def test_two_paths_into_the_same_list_items_merge_and_absent_paths_are_left_out():
    out = project(POD, ["spec.containers[].name", "spec.containers[].resources", "spec.taints", "metadata.nope.x"])
    assert out["spec"] == {"containers": [{"name": "c1", "resources": {"limits": {"nvidia.com/gpu": "2"}}},
                                          {"name": "c2"}]}
    assert "metadata" not in out


def test_the_plan_reads_the_same_from_a_projected_node_as_from_the_full_one():
    from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import plan
    node = {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "n", "labels": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3",
                                                 "nvidia.com/gpu.memory": "81559"}},
            "spec": {"taints": [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}], "podCIDR": "10.0.0.0/24"},
            "status": {"allocatable": {"nvidia.com/gpu": "8", "cpu": "224"}, "capacity": {"nvidia.com/gpu": "8"},
                       "images": [{"names": ["x"] * 50}], "conditions": [{"type": "Ready"}]}}
    keep = ["metadata.name", "metadata.labels", "spec.unschedulable", "spec.taints", "status.allocatable",
            "status.capacity"]
    assert plan.summarize_nodes([project(node, keep)]) == plan.summarize_nodes([node])
    assert plan.gpus_in_use([project(POD, ["metadata.labels", "spec.nodeName", "spec.containers[].resources",
                                           "status.phase"])]) == plan.gpus_in_use([POD]) == {"n1": 2}
