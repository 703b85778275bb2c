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

With --scale 10,25,50,100 it then repeats 1-3 for that many models (Llama 3.1 8B, TP 1/2/4 in turn, one
replica, KEDA, an Ingress each) on 200 extra simulated 8 x H100 nodes registered for the run and removed
after, and prints how the cost grows. `ansible-playbook` start-up alone (an empty play) is printed too.

  .venv/bin/python benchmarks/deploy_bench.py [--runs 3] [--scale 10,25,50,100] [--kubectl /usr/bin/kubectl]
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
KUBECONFIG = os.environ.get("LLMOPS_BED_KUBECONFIG") or os.path.expanduser("~/.cache/llmops-vllm-serving/bed/kubeconfig")
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

SCALE_PLAYBOOK = """
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
    vllm_deploy_models: {models}
  roles:
    - llmops.vllm_serving.vllm_deploy
"""

EMPTY_PLAYBOOK = """
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: Nothing
      ansible.builtin.meta: noop
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
    parser.add_argument("--scale", default="", help="comma-separated model counts, e.g. 10,25,50,100")
    args = parser.parse_args()
    if not os.path.exists(KUBECONFIG):
        sys.exit("no test bed: run hack/testbed.sh up")
    env = dict(os.environ, K8S_AUTH_KUBECONFIG=KUBECONFIG, KUBECONFIG=KUBECONFIG, ANSIBLE_NOCOLOR="1",
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build", "collections"))
    playbook_bin = os.path.join(ROOT, ".venv", "bin", "ansible-playbook")
    kubectl = [args.kubectl, "--kubeconfig", KUBECONFIG]
    with tempfile.TemporaryDirectory() as tmp:
        book = os.path.join(tmp, "empty.yml")
        with open(book, "w") as handle:
            handle.write(EMPTY_PLAYBOOK)
        startup = statistics.median([run([playbook_bin, "-i", "localhost,", book], env)[0] for dummy in range(3)])
    print("ansible-playbook start-up alone (empty play): %.2fs" % startup)
    results = measure(PLAYBOOK.format(ns=NS_ROLE, fx=FIXTURES), args.runs, env, playbook_bin, kubectl)
    report(results, args.runs, "2 models", startup)
    scale = [int(n) for n in args.scale.split(",") if n.strip()] if args.scale else []
    if scale:
        nodes = scale_nodes(200)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "nodes.json")
            with open(path, "w") as handle:
                json.dump({"apiVersion": "v1", "kind": "List", "items": nodes}, handle)
            run(kubectl + ["apply", "--server-side", "-f", path], env)
        try:
            table = []
            for n in scale:
                res = measure(SCALE_PLAYBOOK.format(ns=NS_ROLE, models=json.dumps(scale_models(n))), 1, env,
                              playbook_bin, kubectl)
                med = report(res, 1, "%d models on 200 extra nodes" % n, startup)
                table.append((n, med))
            print("\nmodels  objects  role converge  role no-change  kubectl create  kubectl no-change  converge/kubectl  "
                  "no-change/kubectl  no-change per model")
            for n, med in table:
                cost = core_cost(n)
                med["core"] = cost
                print("%6d  %7d  %12.1fs  %13.1fs  %13.2fs  %16.2fs  %15.1fx  %16.1fx  %17.2fs"
                      % (n, med["objects"], med["role_converge"], med["role_rerun"], med["kubectl_create"],
                         med["kubectl_rerun"], med["role_converge"] / med["kubectl_create"],
                         med["role_rerun"] / med["kubectl_rerun"], med["role_rerun"] / n))
            print("\nthe plan core alone (what the vllm_deploy_plan module runs), fresh Python per count:")
            for n, med in table:
                print("  %3d models: %.2fs, %d objects, peak RSS %.0f MiB (%.0f MiB before the call)"
                      % (n, med["core"]["seconds"], med["core"]["objects"], med["core"]["peak_rss_mib"],
                         med["core"]["rss_before_mib"]))
        finally:
            run(kubectl + ["delete", "nodes", "-l", "llmops.io/bench=true", "--wait=false"], env, check=False)


CORE_COST = """
import json, resource, sys, time
from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import deploy
models, nodes = json.load(open(sys.argv[1]))
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.monotonic()
out = deploy.plan_deployment(models, {"gpu_memory_utilization": 0.9, "model_pvc": "models"}, None, "none",
                             {"vllm_version": "0.33.0", "instance": "bench",
                              "autoscaling": {"kind": "none", "prometheus_address": "http://p:9090",
                                              "kv_cache_target": 0.8, "scale_down_stabilization_s": 300},
                              "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]},
                             {"namespace": "bench", "release": "bench"},
                             {"nodes": nodes, "pods": [], "pvcs": ["models"],
                              "crds": ["scaledobjects.keda.sh", "podmonitors.monitoring.coreos.com",
                                       "prometheusrules.monitoring.coreos.com"]})
took = time.monotonic() - t0
assert not out["problems"], out["problems"][:3]
print(json.dumps({"seconds": took, "objects": len(out["objects"]),
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
                  "rss_before_mib": base / 1024.0}))
"""


def core_cost(count):
    """The module's work (the pure core call) for ``count`` models, in a fresh Python: seconds and peak RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "in.json")
        with open(path, "w") as handle:
            json.dump([scale_models(count), scale_nodes(200)], handle)
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, ".build", "collections"))
        _took, proc = run([sys.executable, "-c", CORE_COST, path], env)
        return json.loads(proc.stdout)


def scale_nodes(count):
    sys.path.insert(0, os.path.join(ROOT, "hack", "testbed"))
    import render_nodes  # noqa: E402 pylint: disable=import-outside-toplevel
    nodes = render_nodes.render([{"prefix": "bench-h100", "count": count, "gpu_product": "NVIDIA-H100-80GB-HBM3", "gpus": 8,
                                  "gpu_memory_mib": 81559, "gpu_family": "hopper", "compute_major": 9, "compute_minor": 0,
                                  "cpu": "224", "memory": "2015Gi"}])
    for node in nodes:
        node["metadata"]["labels"]["llmops.io/bench"] = "true"
    return nodes


def scale_models(count):
    return [{"name": "m%03d" % i, "model": "meta-llama/Llama-3.1-8B-Instruct",
             "model_config_path": os.path.join(FIXTURES, "meta-llama--Llama-3.1-8B-Instruct"),
             "gpu_product": "NVIDIA-H100-80GB-HBM3", "tensor_parallel_size": (1, 2, 4)[i % 3], "replicas": 1,
             "max_model_len": 16384, "ingress_host": "m%03d.bench.example" % i,
             "autoscaling": {"kind": "keda", "min_replicas": 1, "max_replicas": 2}} for i in range(count)]


def measure(playbook, runs, env, playbook_bin, kubectl):
    results = {"role_converge": [], "role_rerun": [], "kubectl_create": [], "kubectl_rerun": [], "objects": []}
    with tempfile.TemporaryDirectory() as tmp:
        book = os.path.join(tmp, "bench.yml")
        with open(book, "w") as handle:
            handle.write(playbook)
        for i in range(runs):
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
            results["objects"].append(len(items))
            print("run %d: role converge %.1fs, re-run %.1fs | kubectl create %.2fs, re-run %.2fs (%d objects)"
                  % (i + 1, results["role_converge"][-1], results["role_rerun"][-1],
                     results["kubectl_create"][-1], results["kubectl_rerun"][-1], len(items)))
        run([playbook_bin, "-i", "localhost,", book, "-e", "state=absent"], env)
        run(kubectl + ["delete", "namespace", NS_KUBECTL, "--ignore-not-found", "--wait=true"], env)
    return results


def report(results, runs, label, startup):
    med = {k: statistics.median(v) for k, v in results.items()}
    print("\n%s, median of %d run(s) (seconds; ansible-playbook start-up alone %.2fs):" % (label, runs, startup))
    print("  role converge     %7.2f   kubectl apply --server-side (create)    %6.2f   ratio %5.1fx"
          % (med["role_converge"], med["kubectl_create"], med["role_converge"] / med["kubectl_create"]))
    print("  role no-change    %7.2f   kubectl apply --server-side (no change) %6.2f   ratio %5.1fx"
          % (med["role_rerun"], med["kubectl_rerun"], med["role_rerun"] / med["kubectl_rerun"]))
    print("  role re-run / role converge: %.2f" % (med["role_rerun"] / med["role_converge"]))
    return med


if __name__ == "__main__":
    main()
