#!/usr/bin/env bash
# The one test command (README, `make test`, .ci/run): does all of its own set-up.
#   1 ruff  2 ansible-lint (production)  3 collection build + ansible-doc  4 ansible-test sanity  5 pytest
#   6 Molecule scenarios on the local cluster (brought up before, brought down after)
# LLMOPS_SCENARIOS="a b" limits Molecule; LLMOPS_KEEP_GOING=1 runs every stage and fails at the end.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
t0=$SECONDS
failed=()
stage() { printf '\n===== [test %(%H:%M:%S)T +%ss] %s =====\n' -1 "$((SECONDS - t0))" "$1"; }
run() {  # name, command...
  local name=$1; shift
  stage "$name"
  if "$@"; then return 0; fi
  failed+=("$name")
  if [[ -z ${LLMOPS_KEEP_GOING:-} ]]; then stage "FAILED: $name"; exit 1; fi
}

stage "setup: virtualenv, collection link, test bed binaries"
hack/venv.sh
hack/collection-link.sh
export PATH=$ROOT/.venv/bin:$PATH
export ANSIBLE_COLLECTIONS_PATH=$ROOT/.build/collections
# ansible-lint puts ~/.ansible/collections first: an installed copy of this collection there would shadow the
# checkout under test (stale modules, "couldn't resolve module"). Move it aside, saying so.
shadow=$HOME/.ansible/collections/ansible_collections/llmops/vllm_serving
if [[ -e $shadow && ! -L $shadow ]]; then
  echo "[test] moving an installed copy of llmops.vllm_serving out of the way: $shadow -> $HOME/.ansible/llmops-vllm_serving.shadowed.$$" >&2
  mv "$shadow" "$HOME/.ansible/llmops-vllm_serving.shadowed.$$"
fi
hack/testbed.sh build
# node-level scenarios use podman from their first step (destroy): install it now, not on first use
hack/podman-setup.sh
# kubectl and helm of the test bed (kubernetes.core.helm runs `helm`)
export PATH=${LLMOPS_CACHE:-$HOME/.cache/llmops-vllm-serving}/bin/current:$PATH
# the promtool rule checks in pytest never skip here: testbed.sh build made promtool
export LLMOPS_REQUIRE_PROMTOOL=1
# checkov, the manifest scanner of the hardening tests, in its own virtualenv (never skipped here either)
LLMOPS_CHECKOV=$(hack/checkov.sh)
export LLMOPS_CHECKOV LLMOPS_REQUIRE_CHECKOV=1

run "ruff" ruff check .
run "ansible-lint (profile production)" ansible-lint --offline
run "collection build: tarball installs, ansible-doc renders it" hack/build-check.sh
run "ansible-test sanity" hack/sanity.sh
run "pytest unit tests" pytest tests/unit

trap 'hack/testbed.sh down || true' EXIT
hack/testbed.sh down >/dev/null 2>&1 || true
run "test bed up" hack/testbed.sh up
mapfile -t scenarios < <(if [[ -n ${LLMOPS_SCENARIOS:-} ]]; then tr ' ' '\n' <<<"$LLMOPS_SCENARIOS"; else
  for f in molecule/*/molecule.yml; do basename "$(dirname "$f")"; done; fi)
# the bed proof first: every other scenario relies on it
mapfile -t scenarios < <(printf '%s\n' testbed "${scenarios[@]}" | awk 'NF && !seen[$0]++')
for s in "${scenarios[@]}"; do
  run "molecule test -s $s" molecule test -s "$s"
done

if ((${#failed[@]})); then stage "FAILED stages: ${failed[*]}"; exit 1; fi
stage "all tests passed in $((SECONDS - t0))s"
