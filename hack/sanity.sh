#!/usr/bin/env bash
# ansible-test sanity needs the collection at .../ansible_collections/llmops/vllm_serving: copy the
# tracked and untracked-but-not-ignored files there (a clean tree, like a clone) and run it with Python 3.11.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${LLMOPS_SANITY_DIR:-$ROOT/.build/sanity}
DEST=$WORK/ansible_collections/llmops/vllm_serving
rm -rf "$WORK"; mkdir -p "$DEST"
cd "$ROOT"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do [[ -e $f ]] && printf '%s\0' "$f"; done \
  | tar --null -T - -cf - | tar -C "$DEST" -xf -
# collections ours depends on (galaxy.yml dependencies), beside it as ansible-test expects: validate-modules
# resolves kubernetes.core.k8s_auth_options (k8s_apply_set) and the import test loads its module_utils
SITE=$("$ROOT/.venv/bin/python" -c 'import ansible_collections,os;print(os.path.dirname(ansible_collections.__path__[0]))')
mkdir -p "$WORK/ansible_collections/kubernetes"
cp -a "$SITE/ansible_collections/kubernetes/core" "$WORK/ansible_collections/kubernetes/core"
# ansible-test bootstraps pip in its venvs with a script from ci-files.testing.ansible.com (unreachable here)
for v in $(grep -ho "^pip==[0-9.]*" "$(python -c 'import ansible_test,os;print(os.path.dirname(ansible_test.__file__))')"/_data/requirements/*.txt | sort -u | cut -d= -f3) 24.2; do
  mkdir -p ~/.ansible/test/cache
  cp "$ROOT/hack/get_pip_shim.py" ~/.ansible/test/cache/get_pip_${v//./_}.py
done
cd "$DEST"
git init -q . && git add -A >/dev/null && git -c user.email=ci@local -c user.name=ci commit -qm sanity >/dev/null
ansible-test sanity --python 3.11 --requirements --color no "$@"
