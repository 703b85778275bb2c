#!/usr/bin/env bash
# `make bench`: every benchmark, printed as numbers and ratios against the obvious baseline (never asserted).
#   sizing accuracy vs real vLLM startup logs (and llm-d-planner when its venv exists: LLMOPS_PLANNER_PYTHON)
#   model_store snapshot vs `cp -al`, re-stage of an unchanged model
#   vllm_deploy converge / no-change re-run vs `kubectl apply --server-side` (needs the test bed; started here)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
hack/venv.sh
hack/collection-link.sh
export PATH=$ROOT/.venv/bin:$PATH ANSIBLE_COLLECTIONS_PATH=$ROOT/.build/collections
planner=()
if [[ -x ${LLMOPS_PLANNER_PYTHON:-} ]]; then planner=(--planner "$LLMOPS_PLANNER_PYTHON"); fi
echo "== sizing accuracy =="; python benchmarks/sizing_accuracy.py "${planner[@]}"
echo "== model store =="; python benchmarks/model_store_bench.py
if [[ -f benchmarks/deploy_bench.py ]]; then
  hack/testbed.sh build
  hack/testbed.sh up >/dev/null
  eval "$(hack/testbed.sh env)"
  echo "== vllm_deploy converge vs kubectl apply --server-side =="; python benchmarks/deploy_bench.py
fi
