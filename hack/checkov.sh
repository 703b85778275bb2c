#!/usr/bin/env bash
# Install (once) the pinned checkov, the manifest scanner the tests run on every rendered kind, into its own
# virtualenv (its pinned dependencies would fight the test tooling's); prints the path of its executable.
set -euo pipefail
VERSION=3.3.30
CACHE=${LLMOPS_CACHE:-$HOME/.cache/llmops-vllm-serving}
VENV=$CACHE/checkov-$VERSION
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [[ ! -f $VENV/.complete ]]; then   # a half-made virtualenv (interrupted install) is made again
  echo "[checkov] installing checkov $VERSION into $VENV" >&2
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check --cache-dir "$CACHE/pip" "checkov==$VERSION" >&2
  touch "$VENV/.complete"
fi
echo "$VENV/bin/checkov"
