"""Render KWOK Node objects (JSON list) from nodes.yaml, labelled as GPU Feature Discovery would."""

import json
import sys

import yaml


def render(spec, driver="570.172.08", cuda="12.8"):
    nodes = []
    for group in spec:
        for i in range(int(group.get("count", 1))):
            name = f"{group['prefix']}-{i}"
            gpus = int(group.get("gpus", 0))
            labels = {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
                "llmops.io/testbed": "true",
            }
            capacity = {
                "cpu": str(group.get("cpu", "32")),
                "memory": str(group.get("memory", "125Gi")),
                "pods": "110",
                "ephemeral-storage": "1Ti",
            }
            taints = []
            if gpus:
                dmaj, dmin, drev = driver.split(".")
                cmaj, cmin = cuda.split(".")
                labels.update({
                    "nvidia.com/gpu.present": "true",
                    "nvidia.com/gpu.deploy.device-plugin": "true",
                    "nvidia.com/gpu.product": group["gpu_product"],
                    "nvidia.com/gpu.count": str(gpus),
                    "nvidia.com/gpu.memory": str(group["gpu_memory_mib"]),
                    "nvidia.com/gpu.family": group.get("gpu_family", ""),
                    "nvidia.com/gpu.compute.major": str(group.get("compute_major", "")),
                    "nvidia.com/gpu.compute.minor": str(group.get("compute_minor", "")),
                    "nvidia.com/gpu.machine": "simulated",
                    "nvidia.com/mig.capable": "true" if group.get("mig_capable") else "false",
                    "nvidia.com/cuda.driver.major": dmaj,
                    "nvidia.com/cuda.driver.minor": dmin,
                    "nvidia.com/cuda.driver.rev": drev,
                    "nvidia.com/cuda.runtime.major": cmaj,
                    "nvidia.com/cuda.runtime.minor": cmin,
                })
                capacity["nvidia.com/gpu"] = str(gpus)
                taints.append({"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"})
            nodes.append({
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "labels": labels,
                    "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                },
                "spec": {"taints": taints},
                "status": {
                    "capacity": capacity,
                    "allocatable": dict(capacity),
                    "nodeInfo": {
                        "machineID": name,
                        "systemUUID": name,
                        "bootID": name,
                        "architecture": "amd64",
                        "operatingSystem": "linux",
                        "kubeletVersion": "fake",
                        "kubeProxyVersion": "fake",
                        "osImage": "kwok",
                        "containerRuntimeVersion": "kwok",
                        "kernelVersion": "kwok",
                    },
                },
            })
    return nodes


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as fh:
        spec = yaml.safe_load(fh)
    json.dump({"apiVersion": "v1", "kind": "List", "items": render(spec)}, sys.stdout, indent=1)
