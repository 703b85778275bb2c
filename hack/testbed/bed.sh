#!/usr/bin/env bash
# up | down | status | kubeconfig | env — the running side of hack/testbed.sh (build lives there).
# Real etcd + kube-apiserver + kube-controller-manager + kube-scheduler on loopback, client-certificate auth
# with a CA made here, KWOK managing simulated nodes that advertise nvidia.com/gpu.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${LLMOPS_CACHE:-$HOME/.cache/llmops-vllm-serving}
BIN=$CACHE/bin/current
BED=${LLMOPS_BED_DIR:-$CACHE/bed}
NODES_FILE=${LLMOPS_BED_NODES:-$ROOT/hack/testbed/nodes.yaml}
PORT=${LLMOPS_BED_PORT:-16443}
ETCD_PORT=${LLMOPS_BED_ETCD_PORT:-12379}
KUBECONFIG_OUT=$BED/kubeconfig
PKI=$BED/pki
PY=$ROOT/.venv/bin/python

log() { printf '[testbed %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
kc() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_OUT" "$@"; }

healthy() {
  [[ -f $KUBECONFIG_OUT ]] && curl -sf --max-time 2 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    "https://127.0.0.1:$PORT/readyz" >/dev/null 2>&1
}

running() { local p; p=$(cat "$BED/pids/$1" 2>/dev/null) && kill -0 "$p" 2>/dev/null; }

start() {  # name, command...
  local name=$1; shift
  if running "$name"; then return; fi
  mkdir -p "$BED/logs" "$BED/pids"
  setsid nohup "$@" >"$BED/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$BED/pids/$name"
}

wait_for() {  # description, seconds, command...
  local what=$1 secs=$2 i; shift 2
  for ((i = 0; i < secs * 4; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
  die "$what not ready after ${secs}s; logs in $BED/logs/"
}

make_pki() {
  [[ -f $PKI/admin.key ]] && return
  mkdir -p "$PKI"; cd "$PKI"
  local ssl="openssl"
  $ssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj "/CN=llmops-testbed-ca" 2>/dev/null
  cat > apiserver.ext <<EXT
subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
extendedKeyUsage=serverAuth
EXT
  $ssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver" 2>/dev/null
  $ssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt -days 3650 -extfile apiserver.ext 2>/dev/null
  local who
  for who in admin:system:masters controller-manager: scheduler: kwok:system:masters; do
    local n=${who%%:*} o=${who#*:} subj
    case $n in
      controller-manager) subj="/CN=system:kube-controller-manager" ;;
      scheduler) subj="/CN=system:kube-scheduler" ;;
      *) subj="/O=$o/CN=llmops-$n" ;;
    esac
    printf 'extendedKeyUsage=clientAuth\n' > client.ext
    $ssl req -newkey rsa:2048 -nodes -keyout "$n.key" -out "$n.csr" -subj "$subj" 2>/dev/null
    $ssl x509 -req -in "$n.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$n.crt" -days 3650 -extfile client.ext 2>/dev/null
  done
  $ssl genrsa -out sa.key 2048 2>/dev/null
  $ssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  rm -f ./*.csr ./*.ext
  cd - >/dev/null
}

write_kubeconfig() {  # who, file
  cat > "$2" <<KC
apiVersion: v1
kind: Config
clusters:
  - name: llmops-testbed
    cluster: {server: "https://127.0.0.1:$PORT", certificate-authority: "$PKI/ca.crt"}
users:
  - name: $1
    user: {client-certificate: "$PKI/$1.crt", client-key: "$PKI/$1.key"}
contexts:
  - name: llmops-testbed
    context: {cluster: llmops-testbed, user: $1}
current-context: llmops-testbed
KC
  chmod 600 "$2"
}

make_pki_aggregation() {  # front-proxy (aggregation layer) and the apiserver's kubelet client; idempotent per file
  cd "$PKI"
  if [[ ! -f front-proxy-ca.crt ]]; then
    openssl req -x509 -newkey rsa:2048 -nodes -keyout front-proxy-ca.key -out front-proxy-ca.crt -days 3650 -subj "/CN=llmops-testbed-front-proxy-ca" 2>/dev/null
  fi
  local n ca subj
  for n in front-proxy-client apiserver-kubelet-client; do
    [[ -f $n.crt ]] && continue
    if [[ $n == front-proxy-client ]]; then ca=front-proxy-ca subj="/CN=front-proxy-client"; else ca=ca subj="/O=system:masters/CN=kube-apiserver-kubelet-client"; fi
    printf 'extendedKeyUsage=clientAuth\n' > "$n.ext"
    openssl req -newkey rsa:2048 -nodes -keyout "$n.key" -out "$n.csr" -subj "$subj" 2>/dev/null
    openssl x509 -req -in "$n.csr" -CA "$ca.crt" -CAkey "$ca.key" -CAcreateserial -out "$n.crt" -days 3650 -extfile "$n.ext" 2>/dev/null
    rm -f "$n.csr" "$n.ext"
  done
  cd - >/dev/null
}

# shellcheck source=hack/testbed/realnode.sh
source "$ROOT/hack/testbed/realnode.sh"

cmd_up() {
  local t0=$SECONDS
  [[ -x $BIN/kube-apiserver && -x $BIN/kwok && -x $BIN/kubectl ]] || "$ROOT/hack/testbed.sh" build
  [[ -x $PY ]] || "$ROOT/hack/venv.sh"
  local c all=1
  for c in etcd kube-apiserver kube-controller-manager kube-scheduler kwok; do running "$c" || all=0; done
  if real_enabled; then for c in containerd kubelet kube-proxy; do running "$c" || all=0; done; fi
  if ((all)) && healthy; then log "already up: export KUBECONFIG=$KUBECONFIG_OUT"; echo "$KUBECONFIG_OUT"; return; fi
  mkdir -p "$BED"
  make_pki
  make_pki_aggregation
  write_kubeconfig admin "$KUBECONFIG_OUT"
  write_kubeconfig controller-manager "$BED/controller-manager.kubeconfig"
  write_kubeconfig scheduler "$BED/scheduler.kubeconfig"
  write_kubeconfig kwok "$BED/kwok.kubeconfig"

  log "starting etcd on 127.0.0.1:$ETCD_PORT"
  start etcd "$BIN/etcd" --name llmops --data-dir "$BED/etcd" --unsafe-no-fsync \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
    --initial-cluster "llmops=http://127.0.0.1:$((ETCD_PORT + 1))" --listen-metrics-urls "" --log-level warn
  wait_for etcd 30 curl -sf "http://127.0.0.1:$ETCD_PORT/health"

  # With a real node, pods reach the apiserver as in a real cluster: the `kubernetes` Service (10.96.0.1:443) ->
  # kube-proxy -> the node address the apiserver advertises (lease reconciler writes its endpoints). KWOK-only
  # beds stay on loopback.
  local bind=127.0.0.1 advertise=127.0.0.1 reconciler=none
  if real_enabled; then
    advertise=$(real_node_ip); [[ -n $advertise ]] || die "no IPv4 source address for the apiserver to advertise (ip route get 1.1.1.1)"
    bind=0.0.0.0 reconciler=lease
  fi
  log "starting kube-apiserver on https://$bind:$PORT (advertised $advertise)"
  start kube-apiserver "$BIN/kube-apiserver" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address "$bind" --advertise-address "$advertise" --secure-port "$PORT" \
    --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" --client-ca-file "$PKI/ca.crt" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local --service-account-key-file "$PKI/sa.pub" \
    --service-account-signing-key-file "$PKI/sa.key" --service-cluster-ip-range 10.96.0.0/16 \
    --authorization-mode Node,RBAC --allow-privileged=true --enable-priority-and-fairness=false \
    --endpoint-reconciler-type "$reconciler" --profiling=false --v=1 \
    --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority "$PKI/ca.crt" --kubelet-preferred-address-types InternalIP,Hostname \
    --requestheader-client-ca-file "$PKI/front-proxy-ca.crt" --requestheader-allowed-names front-proxy-client \
    --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
    --requestheader-extra-headers-prefix X-Remote-Extra- --proxy-client-cert-file "$PKI/front-proxy-client.crt" \
    --proxy-client-key-file "$PKI/front-proxy-client.key" --enable-aggregator-routing=true
  wait_for kube-apiserver 90 healthy

  log "starting kube-controller-manager and kube-scheduler"
  start kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig "$BED/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$BED/controller-manager.kubeconfig" --authorization-kubeconfig "$BED/controller-manager.kubeconfig" \
    --leader-elect=false --bind-address 127.0.0.1 --secure-port $((PORT + 2)) --use-service-account-credentials=true \
    --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
    --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
    --controllers '*,-node-ipam-controller' --node-monitor-grace-period 60s --profiling=false --v=1
  start kube-scheduler "$BIN/kube-scheduler" --kubeconfig "$BED/scheduler.kubeconfig" \
    --authentication-kubeconfig "$BED/scheduler.kubeconfig" --authorization-kubeconfig "$BED/scheduler.kubeconfig" \
    --leader-elect=false --bind-address 127.0.0.1 --secure-port $((PORT + 3)) --profiling=false --v=1

  log "starting kwok (manages nodes annotated kwok.x-k8s.io/node=fake)"
  start kwok "$BIN/kwok" --kubeconfig "$BED/kwok.kubeconfig" --manage-all-nodes=false \
    --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --cidr 10.244.0.0/16 --node-ip 10.0.0.1 --server-address 127.0.0.1:$((PORT + 4)) --node-lease-duration-seconds 40

  wait_for "default ServiceAccount" 60 kc -n default get serviceaccount default
  log "registering simulated nodes from $NODES_FILE"
  "$PY" "$ROOT/hack/testbed/render_nodes.py" "$NODES_FILE" | kc apply -f - >/dev/null
  # the real charts' CRDs (vendored by hack/testbed/vendor-crds.py); server-side, since the largest exceed
  # the 256 KiB last-applied annotation of a client-side apply
  log "installing the real CRDs of the GPU Operator (+NFD), kube-prometheus-stack, KEDA and LWS charts"
  kc apply --server-side --force-conflicts --field-manager llmops-testbed -f "$ROOT/hack/testbed/crds/" >/dev/null
  kc wait --for condition=Established --timeout 120s -f "$ROOT/hack/testbed/crds/" >/dev/null
  kc wait --for condition=Ready --timeout 60s node -l llmops.io/testbed=true >/dev/null
  real_up
  log "up in $((SECONDS - t0))s: export KUBECONFIG=$KUBECONFIG_OUT"
  echo "$KUBECONFIG_OUT"
}

cmd_down() {
  local n t0=$SECONDS
  real_down
  for n in kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
    if running "$n"; then kill "$(cat "$BED/pids/$n")" 2>/dev/null || true; fi
  done
  for n in kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
    local p; p=$(cat "$BED/pids/$n" 2>/dev/null) || continue
    for _ in $(seq 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$p" 2>/dev/null || true
  done
  rm -rf "$BED"
  log "down: state removed in $((SECONDS - t0))s"
}

cmd_status() {
  if ! healthy; then log "not running"; return 1; fi
  if real_enabled && running kubelet; then log "real node $REAL_NAME: kubelet pid $(cat "$BED/pids/kubelet"), pods on $REAL_CIDR"; fi
  kc get nodes -L nvidia.com/gpu.product,nvidia.com/gpu.count,nvidia.com/gpu.memory \
    -o custom-columns='NAME:.metadata.name,STATUS:.status.conditions[?(@.type=="Ready")].status,GPU:.status.allocatable.nvidia\.com/gpu,PRODUCT:.metadata.labels.nvidia\.com/gpu\.product,MEMORY_MIB:.metadata.labels.nvidia\.com/gpu\.memory,MIG:.metadata.labels.nvidia\.com/mig\.capable'
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  kubeconfig) echo "$KUBECONFIG_OUT" ;;
  env) echo "export KUBECONFIG=$KUBECONFIG_OUT PATH=$BIN:\$PATH" ;;
  *) echo "usage: hack/testbed.sh build|up|down|status|kubeconfig|env" >&2; exit 2 ;;
esac
