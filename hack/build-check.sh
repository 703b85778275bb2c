#!/usr/bin/env bash
# `ansible-galaxy collection build` makes a tarball that installs, and ansible-doc renders every plugin from it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/.build/dist
INSTALL=$(mktemp -d /tmp/llmops-install.XXXX)
trap 'rm -rf "$INSTALL"' EXIT
rm -rf "$OUT"; mkdir -p "$OUT"
cd "$ROOT"
ansible-galaxy collection build --force --output-path "$OUT" . >/dev/null
tarball=$(ls "$OUT"/llmops-vllm_serving-*.tar.gz)
echo "built $(basename "$tarball") ($(du -h "$tarball" | cut -f1))"
ANSIBLE_COLLECTIONS_PATH=$INSTALL ansible-galaxy collection install --offline --no-deps -p "$INSTALL/ansible_collections" "$tarball" >/dev/null 2>&1 || ANSIBLE_COLLECTIONS_PATH=$INSTALL ansible-galaxy collection install --offline --no-deps -p "$INSTALL" "$tarball"
if tar -tzf "$tarball" | grep -E '^(\.venv|\.build|hack|benchmarks|\.git)/' >/dev/null; then
  echo "tarball contains dev files that build_ignore should exclude" >&2; exit 1
fi
cd "$INSTALL"
export ANSIBLE_COLLECTIONS_PATH=$INSTALL
modules=$(ls "$INSTALL/ansible_collections/llmops/vllm_serving/plugins/modules/" | grep '\.py$' | sed 's/\.py$//')
filters=$(ls "$INSTALL/ansible_collections/llmops/vllm_serving/plugins/filter/" | grep '\.yml$' | sed 's/\.yml$//' || true)
for m in $modules; do
  ansible-doc -t module "llmops.vllm_serving.$m" >/dev/null || { echo "ansible-doc failed for module $m" >&2; exit 1; }
done
for f in $filters; do
  ansible-doc -t filter "llmops.vllm_serving.$f" >/dev/null || { echo "ansible-doc failed for filter $f" >&2; exit 1; }
done
for r in $(ls "$INSTALL/ansible_collections/llmops/vllm_serving/roles/"); do
  ansible-doc -t role "llmops.vllm_serving.$r" >/dev/null || { echo "ansible-doc failed for role $r" >&2; exit 1; }
done
echo "installed from the tarball; ansible-doc rendered $(wc -w <<<"$modules") modules, $(wc -w <<<"$filters") filters and the roles"
