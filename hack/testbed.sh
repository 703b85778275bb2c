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
# shellcheck source=hack/testbed/versions.sh
source "$ROOT/hack/testbed/versions.sh"
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
  log "kubernetes $K8S_VERSION: building ${missing[*]} (cold, measured 2026-12-03: 4.4 min for all six on 2 cores)"
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

go_module_build() {  # module@version out-dir "pre-build command" ldflags packages...: build from a writable copy of the module
  local mv=$1 out=$2 pre=$3 ldf=$4; shift 4
  local src=$CACHE/src/${mv//\//_} dir
  dir=$(go mod download -json "$mv" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  rm -rf "$src.tmp"; cp -r "$dir" "$src.tmp"; chmod -R u+w "$src.tmp"
  (cd "$src.tmp" && eval "$pre" && GOWORK=off CGO_ENABLED=0 GOFLAGS= nice -n 10 go build -mod=mod -trimpath -ldflags "-s -w $ldf" -o "$out.tmp/" "$@")
  rm -rf "$src.tmp"
}

build_prometheus() {  # prometheus + promtool (promtool checks every PrometheusRule the collection renders)
  local out=$BIN/prometheus-$PROMETHEUS_VERSION
  if [[ -x $out/prometheus && -x $out/promtool ]]; then log "prometheus $PROMETHEUS_VERSION: cached"; return; fi
  log "prometheus $PROMETHEUS_VERSION: building prometheus, promtool (cold, measured: 4.5 min on 2 cores)"
  local v=${PROMETHEUS_VERSION#v}
  go_module_build "github.com/prometheus/prometheus@v0.${v%%.*}$(printf '%02d' "$(minor "$PROMETHEUS_VERSION")").${v##*.}" "$out" : \
    "-X github.com/prometheus/common/version.Version=$v -X github.com/prometheus/common/version.Branch=HEAD" ./cmd/prometheus ./cmd/promtool
  rm -rf "$out"; mv "$out.tmp" "$out"
}

build_prom_operator() {  # the operator and its config reloader (the Prometheus pod's init container and sidecar)
  local out=$BIN/prometheus-operator-$PROM_OPERATOR_VERSION m=github.com/prometheus-operator/prometheus-operator
  if [[ -x $out/operator && -x $out/prometheus-config-reloader ]]; then log "prometheus-operator $PROM_OPERATOR_VERSION: cached"; return; fi
  log "prometheus-operator $PROM_OPERATOR_VERSION: building operator, prometheus-config-reloader (cold, measured: 1.5 min on 2 cores)"
  # the module replaces its API packages with ./pkg/...; the published module has them as their own modules
  go_module_build "$m@$PROM_OPERATOR_VERSION" "$out" \
    "go mod edit -dropreplace=$m/pkg/apis/monitoring -dropreplace=$m/pkg/client -require=$m/pkg/apis/monitoring@$PROM_OPERATOR_VERSION -require=$m/pkg/client@$PROM_OPERATOR_VERSION" \
    "-X github.com/prometheus/common/version.Version=${PROM_OPERATOR_VERSION#v}" ./cmd/operator ./cmd/prometheus-config-reloader
  rm -rf "$out"; mv "$out.tmp" "$out"
}

build_keda() {  # operator, metrics apiserver (external metrics for the HPA KEDA drives), admission webhooks
  local out=$BIN/keda-$KEDA_VERSION
  if [[ -x $out/keda && -x $out/keda-adapter && -x $out/keda-admission-webhooks ]]; then log "keda $KEDA_VERSION: cached"; return; fi
  log "keda $KEDA_VERSION: building keda, keda-adapter, keda-admission-webhooks (cold, measured: 4.5 min on 2 cores)"
  go_module_build "github.com/kedacore/keda/v2@v$KEDA_VERSION" "$out" : \
    "-X github.com/kedacore/keda/v2/version.Version=$KEDA_VERSION -X github.com/kedacore/keda/v2/version.GitCommit=v$KEDA_VERSION" \
    ./cmd/operator ./cmd/adapter ./cmd/webhooks
  mv "$out.tmp/operator" "$out.tmp/keda"; mv "$out.tmp/adapter" "$out.tmp/keda-adapter"
  mv "$out.tmp/webhooks" "$out.tmp/keda-admission-webhooks"
  rm -rf "$out"; mv "$out.tmp" "$out"
}

build_coredns() {  # cluster DNS for the real node: Services by name (<svc>.<ns>.svc.cluster.local), as kubeadm installs it
  local out=$BIN/coredns-$COREDNS_VERSION
  if [[ -x $out/coredns ]]; then log "coredns $COREDNS_VERSION: cached"; return; fi
  log "coredns $COREDNS_VERSION: building coredns (cold, measured: 1.4 min on 2 cores)"
  go_module_build "github.com/coredns/coredns@$COREDNS_VERSION" "$out" : \
    "-X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION" .
  rm -rf "$out"; mv "$out.tmp" "$out"
}

build_prom_adapter() {  # prometheus-adapter: the custom metrics API the HPA path reads vLLM's gauges from
  local out=$BIN/prometheus-adapter-$PROM_ADAPTER_VERSION
  if [[ -x $out/adapter ]]; then log "prometheus-adapter $PROM_ADAPTER_VERSION: cached"; return; fi
  log "prometheus-adapter $PROM_ADAPTER_VERSION: building adapter (cold, measured: 1.4 min on 2 cores)"
  go_module_build "sigs.k8s.io/prometheus-adapter@$PROM_ADAPTER_VERSION" "$out" : "" ./cmd/adapter
  rm -rf "$out"; mv "$out.tmp" "$out"
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
  ln -sfn "$BIN/prometheus-$PROMETHEUS_VERSION/promtool" "$BIN/current/promtool"
  ln -sfn "$BIN/prometheus-$PROMETHEUS_VERSION" "$BIN/current/prometheus-dir"
  ln -sfn "$BIN/prometheus-operator-$PROM_OPERATOR_VERSION" "$BIN/current/prometheus-operator-dir"
  ln -sfn "$BIN/keda-$KEDA_VERSION" "$BIN/current/keda-dir"
  ln -sfn "$BIN/prometheus-adapter-$PROM_ADAPTER_VERSION" "$BIN/current/prometheus-adapter-dir"
  ln -sfn "$BIN/coredns-$COREDNS_VERSION" "$BIN/current/coredns-dir"
  ln -sfn "$BIN/kube-state-metrics-$KSM_VERSION" "$BIN/current/kube-state-metrics-dir"
}

build_ksm() {  # kube-state-metrics: the pod series (restarts, readiness) the vLLM pod alerts read
  local out=$BIN/kube-state-metrics-$KSM_VERSION
  if [[ -x $out/kube-state-metrics ]]; then log "kube-state-metrics $KSM_VERSION: cached"; return; fi
  log "kube-state-metrics $KSM_VERSION: building kube-state-metrics"
  go_module_build "k8s.io/kube-state-metrics/v2@$KSM_VERSION" "$out" : \
    "-X github.com/prometheus/common/version.Version=$KSM_VERSION -X github.com/prometheus/common/version.Branch=HEAD" .
  rm -rf "$out"; mv "$out.tmp" "$out"
}

cmd_build() {
  local t0=$SECONDS
  mkdir -p "$BIN"
  build_etcd; build_kwok; build_helm; build_k8s; build_prometheus; build_prom_operator; build_keda; build_prom_adapter; build_coredns; build_ksm
  link_bins
  log "build done in $((SECONDS - t0))s; binaries in $BIN/current"
}

case "${1:-}" in
  build) cmd_build ;;
  *) exec "$ROOT/hack/testbed/bed.sh" "$@" ;;
esac
