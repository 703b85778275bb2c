#!/usr/bin/env python
"""Benchmark vllm_deploy against `kubectl apply --server-side` of the very same objects.

On the local test bed (hack/testbed.sh up), for two models (the molecule/vllm_deploy ones):
  1. role converge (preflight with vllm_sizing + vllm_parallel + node/pod/Secret/CRD reads, then
     server-side apply of every object; rollout wait OFF so both sides only write objects);
  2. role re-run with nothing to change (must report changed=0);
  3. the objects the role created, read back, stripped of server fields and moved to another
     namespace, applied with `kubectl apply --server-side` (create), then again (no change).
Prints seconds and the role/kubectl ratios. The role pays for refusing what cannot work (sizing,
parallelism, capacity, flags) before it writes; kubectl validates nothing of that.

  .venv/bin/python benchmarks/deploy_bench.py [--runs 3] [--kubectl /usr/bin/kubectl]
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KUBECONFIG = os.path.expanduser("~/.cache/llmops-vllm-serving/bed/kubeconfig")
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "model_configs")
NS_ROLE, NS_KUBECTL = "bench-role", "bench-kubectl"

PLAYBOOK = """
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
    vllm_deploy_namespace: {ns}
    vllm_deploy_release: {ns}
    vllm_deploy_wait: false
    vllm_deploy_smoke_test: false
    vllm_deploy_state: "{{{{ state | default('present') }}}}"
    vllm_deploy_models:
      - name: llama-8b
        model: meta-llama/Llama-3.1-8B-Instruct
        model_config_path: {fx}/meta-llama--Llama-3.1-8B-Instruct
        gpu_product: NVIDIA-H100-80GB-HBM3
        tensor_parallel_size: 1
        replicas: 1
        max_model_len: 16384
        ingress_host: llama.bench.example
        autoscaling: {{kind: keda, min_replicas: 1, max_replicas: 2}}
      - name: qwen-7b
        model: Qwen/Qwen2.5-7B-Instruct
        model_config_path: {fx}/Qwen--Qwen2.5-7B-Instruct
        gpu_product: NVIDIA-L40S
        tensor_parallel_size: 1
        replicas: 1
        autoscaling: {{kind: hpa, min_replicas: 1, max_replicas: 1}}
  roles:
    - llmops.vllm_serving.vllm_deploy
"""

KINDS = ["configmaps", "deployments.apps", "services", "ingresses.networking.k8s.io",
         "horizontalpodautoscalers.autoscaling", "poddisruptionbudgets.policy", "networkpolicies.networking.k8s.io",
         "scaledobjects.keda.sh", "podmonitors.monitoring.coreos.com", "prometheusrules.monitoring.coreos.com"]


def run(cmd, env=None, check=True):
    start = time.monotonic()
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, cwd=ROOT)
    took = time.monotonic() - start
    if check and proc.returncode != 0:
        sys.exit("command failed (%s): %s\n%s\n%s" % (proc.returncode, " ".join(cmd), proc.stdout[-3000:], proc.stderr[-3000:]))
    return took, proc


def recap_changed(stdout):
    match = re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)", stdout)
    return int(match.group(1)) if match else -1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--kubectl", default="/usr/bin/kubectl")
    args = parser.parse_args()
    if not os.path.exists(KUBECONFIG):
        sys.exit("no test bed: run hack/testbed.sh up")
    env = dict(os.environ, K8S_AUTH_KUBECONFIG=KUBECONFIG, KUBECONFIG=KUBECONFIG, ANSIBLE_NOCOLOR="1",
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build", "collections"))
    playbook_bin = os.path.join(ROOT, ".venv", "bin", "ansible-playbook")
    kubectl = [args.kubectl, "--kubeconfig", KUBECONFIG]
    results = {"role_converge": [], "role_rerun": [], "kubectl_create": [], "kubectl_rerun": []}
    with tempfile.TemporaryDirectory() as tmp:
        book = os.path.join(tmp, "bench.yml")
        with open(book, "w") as handle:
            handle.write(PLAYBOOK.format(ns=NS_ROLE, fx=FIXTURES))
        for i in range(args.runs):
            for ns in (NS_ROLE, NS_KUBECTL):
                run(kubectl + ["delete", "namespace", ns, "--ignore-not-found", "--wait=true"], env)
            took, proc = run([playbook_bin, "-i", "localhost,", book], env)
            results["role_converge"].append(took)
            took, proc = run([playbook_bin, "-i", "localhost,", book], env)
            if recap_changed(proc.stdout) != 0:
                sys.exit("role re-run reported changes:\n" + proc.stdout[-2000:])
            results["role_rerun"].append(took)

            # the same objects, for kubectl: read back, strip server-owned fields, other namespace
            selector = "app.kubernetes.io/managed-by=llmops.vllm_serving"
            _took, proc = run(kubectl + ["get", ",".join(KINDS), "-n", NS_ROLE, "-l", selector, "-o", "json"], env)
            items = json.loads(proc.stdout)["items"]
            for obj in items:
                meta = obj["metadata"]
                obj["metadata"] = {"name": meta["name"], "namespace": NS_KUBECTL, "labels": meta.get("labels", {}),
                                   "annotations": {k: v for k, v in (meta.get("annotations") or {}).items()
                                                   if not k.startswith("deployment.kubernetes.io/")}}
                obj.pop("status", None)
                if obj["kind"] == "Service":
                    for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy", "internalTrafficPolicy",
                                "sessionAffinity"):
                        obj["spec"].pop(key, None)
            manifest = os.path.join(tmp, "objects.json")
            with open(manifest, "w") as handle:
                json.dump({"apiVersion": "v1", "kind": "List", "items": items}, handle)
            run(kubectl + ["create", "namespace", NS_KUBECTL], env)
            took, _proc = run(kubectl + ["apply", "--server-side", "--field-manager", "bench", "-f", manifest], env)
            results["kubectl_create"].append(took)
            took, proc = run(kubectl + ["apply", "--server-side", "--field-manager", "bench", "-f", manifest], env)
            results["kubectl_rerun"].append(took)
            print("run %d: role converge %.1fs, re-run %.1fs | kubectl create %.2fs, re-run %.2fs (%d objects)"
                  % (i + 1, results["role_converge"][-1], results["role_rerun"][-1],
                     results["kubectl_create"][-1], results["kubectl_rerun"][-1], len(items)))
        run([playbook_bin, "-i", "localhost,", book, "-e", "state=absent"], env)
        run(kubectl + ["delete", "namespace", NS_KUBECTL, "--ignore-not-found", "--wait=true"], env)
    med = {k: statistics.median(v) for k, v in results.items()}
    print("\nmedian of %d runs (seconds):" % args.runs)
    print("  role converge     %7.2f   kubectl apply --server-side (create)    %6.2f   ratio %5.1fx"
          % (med["role_converge"], med["kubectl_create"], med["role_converge"] / med["kubectl_create"]))
    print("  role no-change    %7.2f   kubectl apply --server-side (no change) %6.2f   ratio %5.1fx"
          % (med["role_rerun"], med["kubectl_rerun"], med["role_rerun"] / med["kubectl_rerun"]))
    print("  role re-run / role converge: %.2f" % (med["role_rerun"] / med["role_converge"]))


if __name__ == "__main__":
    main()
