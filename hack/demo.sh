#!/usr/bin/env bash
# The main job: bring up the local GPU cluster (KWOK GPU nodes + one real node) and run the whole flow on it, end to end:
#   plan (fit-or-fail) -> GPU Operator -> monitoring (Prometheus, KEDA, prometheus-adapter, GPU rules, dashboards)
#   -> model store release + PV/PVC -> vLLM models with autoscaling, monitors, alert rules, PDBs, ingress -> a model
#   on the real node answering a completion through its Service, scraped by Prometheus ->
#   a second run that changes nothing -> a model that cannot fit, refused before any change.
# Does all of its own set-up (virtualenv, collection link, test bed build and start). The cluster stays up
# afterwards so you can look around: eval "$(hack/testbed.sh env)"; kubectl -n llm-serving get all. Stop it with
# hack/testbed.sh down.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
t0=$SECONDS
step() { printf '\n\033[1m===== [demo +%ss] %s =====\033[0m\n' "$((SECONDS - t0))" "$*"; }

step "set-up: virtualenv, collection link, test bed (cold: builds Kubernetes from source, ~20 min)"
hack/venv.sh
hack/collection-link.sh
hack/testbed.sh build
hack/testbed.sh up >/dev/null
eval "$(hack/testbed.sh env)"
export PATH=$ROOT/.venv/bin:$PATH K8S_AUTH_KUBECONFIG=$KUBECONFIG ANSIBLE_COLLECTIONS_PATH=$ROOT/.build/collections

step "the GPU nodes (KWOK, and the real node real-l4-0), labelled as GPU Feature Discovery labels them"
hack/testbed.sh status

DEMO=$HOME/.cache/llmops-vllm-serving/demo
step "a model directory to stage (real config.json, synthetic shards) in $DEMO/source"
rm -rf "$DEMO/source" && mkdir -p "$DEMO/source"
python3 hack/demo/make_model.py tests/fixtures/model_configs/meta-llama--Llama-3.1-8B-Instruct "$DEMO/source/llama-3.1-8b-instruct"

step "site.yml: plan -> gpu_nodes -> gpu_operator -> monitoring -> model_store -> vllm_deploy"
ansible-playbook -i inventories/local playbooks/site.yml

step "second run: nothing changes"
ansible-playbook -i inventories/local playbooks/site.yml | tee "$DEMO/second-run.log" | tail -n 12
if grep -Eq 'changed=[1-9]' "$DEMO/second-run.log"; then echo "second run reported changes" >&2; exit 1; fi

step "what is now serving"
kubectl -n llm-serving get deployments,pods,services,ingresses,hpa,scaledobjects,podmonitors,prometheusrules,pdb,networkpolicies,pvc -o wide

step "a request to llama-8b-l4 on the real node, through its Service (the API server's service proxy)"
kubectl -n llm-serving get pods -l llmops.io/model=llama-8b-l4 -o wide
printf '%s' '{"model": "meta-llama/Llama-3.1-8B-Instruct", "prompt": "What does the demo prove?", "max_tokens": 12}' > "$DEMO/request.json"
kubectl create --raw /api/v1/namespaces/llm-serving/services/llama-8b-l4:http/proxy/v1/completions -f "$DEMO/request.json" \
  | python3 -c 'import json, sys; r = json.load(sys.stdin); print("answer:", repr(r["choices"][0]["text"]), "| usage:", r["usage"])'

step "Prometheus (on the real node) scrapes it: its target is up, the dashboards and GPU rules are in place"
prom=/api/v1/namespaces/monitoring/services/prometheus-operated:9090/proxy/api/v1/query
for _ in $(seq 30); do
  up=$(kubectl get --raw "$prom?query=$(python3 -c 'import urllib.parse; print(urllib.parse.quote("up{namespace=\"llm-serving\"}"))')" \
    | python3 -c 'import json, sys; r = json.load(sys.stdin)["data"]["result"]; print(" ".join("%s=%s" % (s["metric"]["pod"], s["value"][1]) for s in r))') || up=""
  [[ $up == *=1* ]] && break; sleep 2
done
echo "up{namespace=\"llm-serving\"} (1: scraped; 0: a KWOK pod, which runs no container): ${up:-none}"
[[ $up == *=1* ]] || { echo "Prometheus does not scrape llama-8b-l4" >&2; exit 1; }
kubectl -n monitoring get configmaps,prometheusrules -l app.kubernetes.io/part-of=llmops-monitoring

step "a model that cannot fit (Llama-3.3-70B bf16 on one L40S) is refused before any change"
before=$(kubectl -n llm-serving get deployments -o name | sort | tr '\n' ' ')
if ansible-playbook -i inventories/local playbooks/deploy.yml -e @hack/demo/refused.yml > "$DEMO/refused.log" 2>&1; then
  echo "the impossible model was not refused" >&2; exit 1
fi
grep -E "No available memory|max seq len|cannot|does not" "$DEMO/refused.log" | head -n 5 || tail -n 20 "$DEMO/refused.log"
after=$(kubectl -n llm-serving get deployments -o name | sort | tr '\n' ' ')
[[ $before == "$after" ]] && echo "refused: the cluster is unchanged ($after)"

step "done in $((SECONDS - t0))s — cluster left up: eval \"\$(hack/testbed.sh env)\"; hack/testbed.sh down to stop"
