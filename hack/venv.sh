#!/usr/bin/env bash
# Create or reuse .venv with the pinned tooling; re-installs only when requirements-dev.txt changes.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${LLMOPS_VENV:-$ROOT/.venv}
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
stamp=$VENV/.requirements.sha256
want=$(sha256sum "$ROOT/requirements-dev.txt" | cut -d' ' -f1)
if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then exit 0; fi
echo "[venv] installing pinned tooling into $VENV" >&2
[[ -x $VENV/bin/python ]] || "$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check --cache-dir "${LLMOPS_CACHE:-$HOME/.cache/llmops-vllm-serving}/pip" -r "$ROOT/requirements-dev.txt"
echo "$want" > "$stamp"
