#!/usr/bin/env bash
# The one test command (README, `make test`, .ci/run): does all of its own set-up.
#   1 ruff  2 ansible-lint (production)  3 collection build + ansible-doc  4 ansible-test sanity  5 pytest
#   6 Molecule scenarios on the local cluster
# Brings the local cluster up before Molecule and down afterwards. LLMOPS_SCENARIOS="a b" limits Molecule.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
t0=$SECONDS
stage() { printf '\n===== [test %(%H:%M:%S)T +%ss] %s =====\n' -1 "$((SECONDS - t0))" "$*"; }

stage "setup: virtualenv, collection link, test bed binaries"
hack/venv.sh
hack/collection-link.sh
export PATH=$ROOT/.venv/bin:$PATH
export ANSIBLE_COLLECTIONS_PATH=$ROOT/.build/collections
hack/testbed.sh build

stage "ruff"
ruff check .

stage "ansible-lint (profile production)"
ansible-lint --offline

stage "collection build: tarball installs, ansible-doc renders it"
hack/build-check.sh

stage "ansible-test sanity"
hack/sanity.sh

stage "pytest unit tests"
pytest tests/unit

stage "molecule scenarios on the local cluster"
trap 'hack/testbed.sh down || true' EXIT
hack/testbed.sh down >/dev/null 2>&1 || true
hack/testbed.sh up >/dev/null
mapfile -t scenarios < <(if [[ -n ${LLMOPS_SCENARIOS:-} ]]; then tr ' ' '\n' <<<"$LLMOPS_SCENARIOS"; else
  for f in molecule/*/molecule.yml; do basename "$(dirname "$f")"; done; fi)
# the bed proof first: every other scenario relies on it
scenarios=(testbed $(printf '%s\n' "${scenarios[@]}" | grep -vx testbed || true))
for s in "${scenarios[@]}"; do
  stage "molecule test -s $s"
  molecule test -s "$s"
done
stage "all tests passed in $((SECONDS - t0))s"
