#!/usr/bin/env bash
# Local Kubernetes test bed with simulated GPU nodes.
#   hack/testbed.sh build   build (or reuse) pinned binaries under ~/.cache/llmops-vllm-serving/
#   hack/testbed.sh up      start etcd, kube-apiserver, controller-manager, scheduler, kwok; register nodes;
#                           one real node (containerd + kubelet + kube-proxy; LLMOPS_BED_REAL_NODES=0: none)
#   hack/testbed.sh down    stop everything and remove the cluster state
#   hack/testbed.sh status  show nodes
# Everything listens on loopback only. Kubeconfig: $LLMOPS_BED_DIR/kubeconfig (printed by `up`).
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.35.4}
ETCD_VERSION=${ETCD_VERSION:-v3.5.35}
KWOK_VERSION=${KWOK_VERSION:-v0.7.0}
HELM_VERSION=${HELM_VERSION:-v3.19.5}

CACHE=${LLMOPS_CACHE:-$HOME/.cache/llmops-vllm-serving}
BIN=$CACHE/bin
export GOMODCACHE=$CACHE/gomod GOCACHE=$CACHE/gobuild GOFLAGS=-mod=mod GOTOOLCHAIN=local
export GOPROXY=${GOPROXY:-https://proxy.golang.org,direct}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BED=${LLMOPS_BED_DIR:-$CACHE/bed}
NODES_FILE=${LLMOPS_BED_NODES:-$ROOT/hack/testbed/nodes.yaml}
APISERVER_PORT=${LLMOPS_BED_PORT:-16443}
ETCD_PORT=${LLMOPS_BED_ETCD_PORT:-12379}

log() { printf '[testbed %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

minor() { local v=${1#v}; v=${v#*.}; echo "${v%%.*}"; }

build_k8s() {
  local dir=$CACHE/src/k8s-$K8S_VERSION sv="v0.$(minor "$K8S_VERSION").${K8S_VERSION##*.}"
  local out=$BIN/k8s-$K8S_VERSION
  local c missing=() want=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
  # the real node (hack/testbed/realnode.sh): kubelet and kube-proxy from the same module, ~2.5 min more
  [[ ${LLMOPS_BED_REAL_NODES:-1} == 0 ]] || want+=(kubelet kube-proxy)
  for c in "${want[@]}"; do [[ -x $out/$c ]] || missing+=("$c"); done
  if ((${#missing[@]} == 0)); then log "kubernetes $K8S_VERSION: cached"; return; fi
  log "kubernetes $K8S_VERSION: building ${missing[*]} (cold: 20-30 min on 2 cores)"
  mkdir -p "$dir" "$out"; cd "$dir"
  [[ -f go.mod ]] || go mod init local/k8sbin >/dev/null 2>&1
  local gomod; gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  local m
  for m in $(awk '/^\tk8s.io\/[^ ]+ v0.0.0$/ {print $1}' "$gomod"); do
    go mod edit -replace="$m=$m@$sv"
  done
  log "kubernetes: resolving modules"
  go get "k8s.io/kubernetes@$K8S_VERSION" >/dev/null
  local ld="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(minor "$K8S_VERSION") -X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
  for c in "${missing[@]}"; do
    log "kubernetes: go build $c"
    CGO_ENABLED=0 go build -trimpath -tags selinux,notest -ldflags "$ld" -o "$out/$c.tmp" "k8s.io/kubernetes/cmd/$c"
    mv "$out/$c.tmp" "$out/$c"
  done
}

build_etcd() {
  local out=$BIN/etcd-$ETCD_VERSION
  if [[ -x $out/etcd ]]; then log "etcd $ETCD_VERSION: cached"; return; fi
  log "etcd $ETCD_VERSION: building"
  local dir=$CACHE/src/etcd-$ETCD_VERSION; mkdir -p "$dir" "$out"; cd "$dir"
  [[ -f go.mod ]] || go mod init local/etcdbin >/dev/null 2>&1
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/etcd.tmp" go.etcd.io/etcd/server/v3
  mv "$out/etcd.tmp" "$out/etcd"
}

build_kwok() {
  local out=$BIN/kwok-$KWOK_VERSION
  if [[ -x $out/kwok ]]; then log "kwok $KWOK_VERSION: cached"; return; fi
  log "kwok $KWOK_VERSION: building kwok, kwokctl"
  mkdir -p "$out"
  CGO_ENABLED=0 GOBIN=$out.tmp go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION"
  mv "$out.tmp"/* "$out/"; rmdir "$out.tmp"
}

build_helm() {
  local out=$BIN/helm-$HELM_VERSION
  if [[ -x $out/helm ]]; then log "helm $HELM_VERSION: cached"; return; fi
  log "helm $HELM_VERSION: building"
  mkdir -p "$out"
  CGO_ENABLED=0 GOBIN=$out.tmp go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  mv "$out.tmp"/helm "$out/helm"; rmdir "$out.tmp"
}

link_bins() {
  mkdir -p "$BIN/current"
  ln -sfn "$BIN/k8s-$K8S_VERSION/kube-apiserver" "$BIN/current/kube-apiserver"
  ln -sfn "$BIN/k8s-$K8S_VERSION/kube-controller-manager" "$BIN/current/kube-controller-manager"
  ln -sfn "$BIN/k8s-$K8S_VERSION/kube-scheduler" "$BIN/current/kube-scheduler"
  ln -sfn "$BIN/k8s-$K8S_VERSION/kubectl" "$BIN/current/kubectl"
  local c
  for c in kubelet kube-proxy; do
    if [[ -x $BIN/k8s-$K8S_VERSION/$c ]]; then ln -sfn "$BIN/k8s-$K8S_VERSION/$c" "$BIN/current/$c"; fi
  done
  ln -sfn "$BIN/etcd-$ETCD_VERSION/etcd" "$BIN/current/etcd"
  ln -sfn "$BIN/kwok-$KWOK_VERSION/kwok" "$BIN/current/kwok"
  ln -sfn "$BIN/kwok-$KWOK_VERSION/kwokctl" "$BIN/current/kwokctl"
  ln -sfn "$BIN/helm-$HELM_VERSION/helm" "$BIN/current/helm"
}

cmd_build() {
  local t0=$SECONDS
  mkdir -p "$BIN"
  build_etcd; build_kwok; build_helm; build_k8s
  link_bins
  log "build done in $((SECONDS - t0))s; binaries in $BIN/current"
}

case "${1:-}" in
  build) cmd_build ;;
  *) exec "$ROOT/hack/testbed/bed.sh" "$@" ;;
esac
