# shellcheck shell=bash
# The bed's real node (sourced by bed.sh): containerd + runc + CNI bridge from Debian, kubelet and kube-proxy
# from the same Kubernetes module as the control plane. It runs real pods beside the KWOK nodes, labelled as
# GPU Feature Discovery labels an NVIDIA-L4 node and advertising nvidia.com/gpu (a node-status patch; no device
# plugin, no GPU: NVIDIA_VISIBLE_DEVICES stays empty). Images are built here and imported; nothing is pulled.
# LLMOPS_BED_REAL_NODES=0 disables it. Host-global (one real node per machine): ports 10250/10248/10249/10256,
# the bridge llmops-cni0 on 10.123.0.0/24, iptables chains KUBE-* and the bridge's masquerade rules, /run/netns
# cni-*, /run/containerd/s, sysctls kubelet sets, cgroups under /llmops-bed; `down` undoes each of them.

REAL_NODES=${LLMOPS_BED_REAL_NODES:-1}
REAL_NAME=${LLMOPS_BED_REAL_NODE_NAME:-real-l4-0}
REAL_GPUS=${LLMOPS_BED_REAL_GPUS:-8}
REAL_CIDR=10.123.0.0/24
REAL_BRIDGE=llmops-cni0
REAL_CNI_NET=llmops-bed
REAL=$BED/real
REAL_SOCK=$REAL/containerd.sock
REAL_DNS_IP=10.96.0.10  # kube-dns, as kubeadm puts it: the tenth address of the Service range
PAUSE_IMAGE=registry.k8s.io/pause:3.10.1
VLLM_SIM_VERSION=${VLLM_SIM_VERSION:-0.33.0}
VLLM_IMAGE=vllm/vllm-openai:v$VLLM_SIM_VERSION
KUBELET_TUNABLES="vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.ipv4.ip_forward"

real_enabled() {
  case $REAL_NODES in
    0) return 1 ;;
    1) return 0 ;;
    *) die "LLMOPS_BED_REAL_NODES=$REAL_NODES: one real node per machine is possible (kubelet ports 10250/10248 and kube-proxy's iptables are host-global); use 1, or 0 for KWOK only" ;;
  esac
}

real_node_ip() { ip -4 route get 1.1.1.1 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "src") {print $(i + 1); exit}}'; }

real_host_packages() {  # Debian packages, installed if missing (like hack/podman-setup.sh)
  local need=()
  command -v containerd >/dev/null || need+=(containerd)
  command -v runc >/dev/null || need+=(runc)
  [[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] || need+=(containernetworking-plugins)
  command -v iptables >/dev/null || need+=(iptables)
  command -v conntrack >/dev/null || need+=(conntrack)
  ((${#need[@]} == 0)) && return
  log "real node: installing ${need[*]} from apt"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >/dev/null \
    || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >/dev/null; } \
    || die "apt-get install ${need[*]} failed; install them, or run with LLMOPS_BED_REAL_NODES=0 (KWOK nodes only)"
}

real_pki() {  # kubelet serving + client, kube-proxy, the apiserver's kubelet client; idempotent per file
  local ip=$1 ssl=openssl
  cd "$PKI"
  sign() {  # name subject ext
    [[ -f $1.crt ]] && return
    printf '%s\n' "$3" > "$1.ext"
    $ssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
    $ssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" -days 3650 -extfile "$1.ext" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
  }
  sign "kubelet-$REAL_NAME" "/O=system:nodes/CN=system:node:$REAL_NAME" "extendedKeyUsage=clientAuth"
  sign "kubelet-serving-$REAL_NAME" "/CN=$REAL_NAME" "$(printf 'subjectAltName=IP:%s,IP:127.0.0.1,DNS:%s\nextendedKeyUsage=serverAuth' "$ip" "$REAL_NAME")"
  sign kube-proxy "/CN=system:kube-proxy" "extendedKeyUsage=clientAuth"
  cd - >/dev/null
}

real_images() {  # the vLLM simulator image and the sandbox image, built once per source hash, imported each up
  local src=$ROOT/hack/testbed key dir
  key=$(cat "$src/vllm-sim/go.mod" "$src/vllm-sim/main.go" "$src/pause/go.mod" "$src/pause/main.go" "$src/pack_image.py" \
    <(go version) <(echo "$VLLM_IMAGE $PAUSE_IMAGE") | sha256sum | cut -c1-16)
  dir=$CACHE/images/$key
  if [[ ! -f $dir/vllm-openai.tar || ! -f $dir/pause.tar ]]; then
    local t0=$SECONDS
    log "images: building the vLLM simulator, pause and busybox layers (cache $dir)"
    mkdir -p "$dir.tmp" "$CACHE/debs"
    (cd "$src/vllm-sim" && GOCACHE=$CACHE/gobuild CGO_ENABLED=0 GOFLAGS= nice -n 10 go build -trimpath -ldflags "-s -w" -o "$dir.tmp/vllm" .)
    (cd "$src/pause" && GOCACHE=$CACHE/gobuild CGO_ENABLED=0 GOFLAGS= nice -n 10 go build -trimpath -ldflags "-s -w" -o "$dir.tmp/pause" .)
    local debs=("$CACHE"/debs/busybox-static_*.deb)
    if [[ ! -f ${debs[0]} ]]; then
      (cd "$CACHE/debs" && apt-get download busybox-static >/dev/null 2>&1) || die "apt-get download busybox-static failed (the image's /bin/sh for preStop)"
      debs=("$CACHE"/debs/busybox-static_*.deb)
    fi
    local deb=${debs[0]}
    dpkg-deb -x "$deb" "$dir.tmp/bb"
    # busybox for the preStop hook's /bin/sh -c sleep and for kubectl exec; its wget -T crashes (1.35): use timeout
    local links=() a
    for a in sh sleep cat ls ps env echo kill wget timeout test true false grep; do links+=("bin/$a@=/bin/busybox"); done
    "$PY" "$src/pack_image.py" "$dir.tmp/vllm-openai.tar" "$VLLM_IMAGE" '[]' \
      "usr/local/bin/vllm=$dir.tmp/vllm" "bin/busybox=$dir.tmp/bb/bin/busybox" "${links[@]}"
    "$PY" "$src/pack_image.py" "$dir.tmp/pause.tar" "$PAUSE_IMAGE" '["/pause"]' "pause=$dir.tmp/pause"
    rm -rf "$dir.tmp/bb" "$dir"; mv "$dir.tmp" "$dir"
    log "images: built in $((SECONDS - t0))s"
  fi
  local t
  for t in pause vllm-openai; do
    ctr -a "$REAL_SOCK" -n k8s.io images import "$dir/$t.tar" >/dev/null \
      || die "ctr images import $dir/$t.tar failed; logs in $REAL/"
  done
  real_addon_images
}

# The add-ons' images, under the names their charts (kube-prometheus-stack 88.5.3, KEDA 2.20.2, prometheus-adapter
# 5.3.0) and kubeadm (CoreDNS) use, from the binaries hack/testbed.sh build made from their Go modules: upstream
# Dockerfiles' entrypoints, users, working directories and file capabilities; no shell, like distroless.
# shellcheck source=hack/testbed/versions.sh
source "$ROOT/hack/testbed/versions.sh"
ADDON_IMAGES=(
  "prometheus quay.io/prometheus/prometheus:$PROMETHEUS_VERSION-distroless prometheus-dir/prometheus /bin/prometheus --user=65534 --workdir=/prometheus --dir=prometheus"
  "prometheus-operator quay.io/prometheus-operator/prometheus-operator:$PROM_OPERATOR_VERSION prometheus-operator-dir/operator /bin/operator --user=65534"
  "prometheus-config-reloader quay.io/prometheus-operator/prometheus-config-reloader:$PROM_OPERATOR_VERSION prometheus-operator-dir/prometheus-config-reloader /bin/prometheus-config-reloader --user=65534"
  "keda ghcr.io/kedacore/keda:$KEDA_VERSION keda-dir/keda /keda --user=65532:65532"
  "keda-metrics-apiserver ghcr.io/kedacore/keda-metrics-apiserver:$KEDA_VERSION keda-dir/keda-adapter /keda-adapter --user=65532:65532"
  "keda-admission-webhooks ghcr.io/kedacore/keda-admission-webhooks:$KEDA_VERSION keda-dir/keda-admission-webhooks /keda-admission-webhooks --user=65532:65532"
  "prometheus-adapter registry.k8s.io/prometheus-adapter/prometheus-adapter:$PROM_ADAPTER_VERSION prometheus-adapter-dir/adapter /adapter --user=65534"
  "kube-state-metrics registry.k8s.io/kube-state-metrics/kube-state-metrics:$KSM_VERSION kube-state-metrics-dir/kube-state-metrics /kube-state-metrics --user=65534"
  "coredns registry.k8s.io/coredns/coredns:$COREDNS_VERSION coredns-dir/coredns /coredns --user=65532:65532 --cap=coredns=cap_net_bind_service"
)

real_addon_images() {
  local spec name ref bin path opts key dir
  for spec in "${ADDON_IMAGES[@]}"; do
    read -r name ref bin path opts <<<"$spec"
    if [[ ! -x $BIN/$bin ]]; then log "images: $BIN/$bin missing (hack/testbed.sh build makes it): $ref not imported"; continue; fi
    key=$(cat "$(readlink -f "$BIN/$bin")" "$ROOT/hack/testbed/pack_image.py" <(echo "$spec") | sha256sum | cut -c1-16)
    dir=$CACHE/images/$name-$key
    if [[ ! -f $dir/image.tar ]]; then
      mkdir -p "$dir.tmp"
      # shellcheck disable=SC2086 # opts are words
      "$PY" "$ROOT/hack/testbed/pack_image.py" "$dir.tmp/image.tar" "$ref" "[\"$path\"]" $opts "${path#/}=$BIN/$bin"
      rm -rf "$dir"; mv "$dir.tmp" "$dir"
    fi
    ctr -a "$REAL_SOCK" -n k8s.io images import "$dir/image.tar" >/dev/null || die "ctr images import $dir/image.tar ($ref) failed"
  done
}

real_configs() {
  local ip=$1
  mkdir -p "$REAL"/{root,state,runc,cni/net.d,cni/ipam,kubelet,pod-logs}
  # put FILE: write stdin only when it differs (a running kube-proxy exits when its config file changes)
  put() { local t; t=$(mktemp "$1.XXXX"); cat > "$t"; if cmp -s "$t" "$1"; then rm -f "$t"; else mv "$t" "$1"; fi; }
  put "$REAL/containerd.toml" <<EOF
version = 2
root = "$REAL/root"
state = "$REAL/state"
[grpc]
  address = "$REAL_SOCK"
[ttrpc]
  address = "$REAL/containerd.sock.ttrpc"
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # this VM drops CAP_SYS_RESOURCE: without it every sandbox fails (runc: oom_score_adj Permission denied)
  restrict_oom_score_adj = true
  enable_selinux = false
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$REAL/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$REAL/cni/net.d"
    max_conf_num = 1
EOF
  put "$REAL/cni/net.d/10-llmops-bed.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "$REAL_CNI_NET", "plugins": [
  {"type": "bridge", "bridge": "$REAL_BRIDGE", "isGateway": true, "ipMasq": true, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$REAL_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$REAL/cni/ipam"}}
]}
EOF
  write_kubeconfig "kubelet-$REAL_NAME" "$REAL/kubelet.kubeconfig"
  write_kubeconfig kube-proxy "$REAL/kube-proxy.kubeconfig"
  put "$REAL/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $ip
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $PKI/kubelet-serving-$REAL_NAME.crt
tlsPrivateKeyFile: $PKI/kubelet-serving-$REAL_NAME.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix://$REAL_SOCK
cgroupDriver: cgroupfs
cgroupRoot: /llmops-bed
failCgroupV1: false
failSwapOn: false
podLogsDir: $REAL/pod-logs
resolvConf: /etc/resolv.conf
clusterDNS: [$REAL_DNS_IP]
clusterDomain: cluster.local
maxPods: 32
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
registerWithTaints: [{key: nvidia.com/gpu, value: present, effect: NoSchedule}]
nodeStatusReportFrequency: 20s
EOF
  put "$REAL/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $REAL/kube-proxy.kubeconfig}
mode: iptables
hostnameOverride: $REAL_NAME
clusterCIDR: $REAL_CIDR
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
iptables: {localhostNodePorts: false}
nodePortAddresses: [primary]
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
}

real_save_host_state() {  # what `down` restores
  [[ -f $REAL/host-state ]] && return
  local k
  { for k in $KUBELET_TUNABLES; do echo "sysctl $k=$(sysctl -n "$k")"; done
    [[ -e /var/lib/kubelet ]] || echo "created /var/lib/kubelet"
    [[ -e /run/containerd ]] || echo "created /run/containerd"
    [[ -e /var/log/containers ]] || echo "created /var/log/containers"
    [[ -e /var/lib/cni ]] || echo "created /var/lib/cni"
    for k in /run/netns/*; do if [[ -e $k ]]; then echo "netns ${k##*/}"; fi; done
  } > "$REAL/host-state"
}

real_up() {
  real_enabled || return 0
  local t0=$SECONDS ip
  if running kubelet && running containerd && running kube-proxy; then return; fi
  if ! running kubelet && ss -ltn 2>/dev/null | grep -qE '[:.]10250 |127.0.0.1:10248 '; then
    die "port 10250 or 10248 is in use (another bed's real node or a kubelet runs on this machine); stop it, or use LLMOPS_BED_REAL_NODES=0"
  fi
  [[ -x $BIN/kubelet && -x $BIN/kube-proxy ]] || die "kubelet/kube-proxy missing in $BIN; run hack/testbed.sh build (or LLMOPS_BED_REAL_NODES=0)"
  real_host_packages
  ip=$(real_node_ip); [[ -n $ip ]] || die "no IPv4 source address for the real node (ip route get 1.1.1.1)"
  mkdir -p "$REAL"
  real_save_host_state
  real_pki "$ip"
  real_configs "$ip"
  sysctl -qw net.ipv4.ip_forward=1
  real_cgroups
  log "real node $REAL_NAME ($ip): starting containerd"
  start containerd containerd --config "$REAL/containerd.toml"
  wait_for containerd 30 ctr -a "$REAL_SOCK" version
  real_images
  log "real node $REAL_NAME: starting kubelet and kube-proxy"
  start kubelet "$BIN/kubelet" --config "$REAL/kubelet.yaml" --kubeconfig "$REAL/kubelet.kubeconfig" \
    --root-dir "$REAL/kubelet" --cert-dir "$REAL/kubelet/pki" --hostname-override "$REAL_NAME" --node-ip "$ip" --v=1
  start kube-proxy "$BIN/kube-proxy" --config "$REAL/kube-proxy.yaml" --v=1
  wait_for "node $REAL_NAME registered" 60 kc get node "$REAL_NAME"
  # What GPU Feature Discovery would label on a one-L4-per-slot node; nvidia.com/gpu is a node-status patch.
  kc label --overwrite node "$REAL_NAME" llmops.io/testbed=true llmops.io/real-node=true \
    nvidia.com/gpu.present=true nvidia.com/gpu.deploy.device-plugin=true nvidia.com/gpu.product=NVIDIA-L4 \
    nvidia.com/gpu.count="$REAL_GPUS" nvidia.com/gpu.memory=23034 nvidia.com/gpu.family=ada-lovelace \
    nvidia.com/gpu.compute.major=8 nvidia.com/gpu.compute.minor=9 nvidia.com/gpu.machine=llmops-testbed-real \
    nvidia.com/mig.capable=false nvidia.com/cuda.driver.major=570 nvidia.com/cuda.driver.minor=172 \
    nvidia.com/cuda.driver.rev=08 nvidia.com/cuda.runtime.major=12 nvidia.com/cuda.runtime.minor=8 >/dev/null
  kc patch node "$REAL_NAME" --subresource status --type json \
    -p "[{\"op\": \"add\", \"path\": \"/status/capacity/nvidia.com~1gpu\", \"value\": \"$REAL_GPUS\"}]" >/dev/null
  kc wait --for condition=Ready --timeout 60s node "$REAL_NAME" >/dev/null
  wait_for "nvidia.com/gpu allocatable on $REAL_NAME" 30 real_gpu_allocatable
  real_dns
  log "real node $REAL_NAME Ready in $((SECONDS - t0))s (pods on $REAL_CIDR, images $VLLM_IMAGE and $PAUSE_IMAGE imported)"
}

real_dns() {  # CoreDNS as kubeadm installs it, on the real node; the kubelet points pods at kube-dns
  if [[ ! -x $BIN/coredns-dir/coredns ]]; then log "CoreDNS not built (hack/testbed.sh build): pods have no cluster DNS"; return; fi
  sed -e "s|@IMAGE@|registry.k8s.io/coredns/coredns:$COREDNS_VERSION|" -e "s|@DNS_IP@|$REAL_DNS_IP|" \
    "$ROOT/hack/testbed/coredns.yaml" | kc apply -f - >/dev/null
  kc -n kube-system rollout status deployment/coredns --timeout 90s >/dev/null \
    || die "CoreDNS did not become Ready in 90s: kubectl -n kube-system describe pod -l k8s-app=kube-dns; logs in $REAL/"
  wait_for "kube-dns answering kubernetes.default.svc.cluster.local" 30 "$PY" "$ROOT/hack/testbed/dns_query.py" \
    "$REAL_DNS_IP" kubernetes.default.svc.cluster.local 10.96.0.1
}

real_gpu_allocatable() { [[ "$(kc get node "$REAL_NAME" -o jsonpath='{.status.allocatable.nvidia\.com/gpu}')" == "$REAL_GPUS" ]]; }

real_cgroups() {  # kubelet's cgroupRoot must exist in every v1 hierarchy; pods go below it
  local d
  for d in /sys/fs/cgroup/*/; do
    d=${d%/}
    [[ -L $d || ${d##*/} == unified ]] && continue
    mkdir -p "$d/llmops-bed"
    if [[ ${d##*/} == cpuset ]]; then
      cat "$d/cpuset.cpus" > "$d/llmops-bed/cpuset.cpus"
      cat "$d/cpuset.mems" > "$d/llmops-bed/cpuset.mems"
    fi
  done
}

real_kill() {  # name: stop a process this bed started, by its recorded pid
  local p; p=$(cat "$BED/pids/$1" 2>/dev/null) || return 0
  kill "$p" 2>/dev/null || return 0
  for _ in $(seq 40); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.25; done
  kill -9 "$p" 2>/dev/null || true
}

real_down() {  # undo every host-global effect of real_up; safe to run twice or after a crash
  [[ -d $REAL ]] || return 0
  local t0=$SECONDS c p k v
  real_kill kubelet
  real_kill kube-proxy
  # containers: runc's state lives in our own root, so only this bed's containers are listed
  if [[ -d $REAL/runc/k8s.io ]]; then
    for c in $(runc --root "$REAL/runc/k8s.io" list -q 2>/dev/null); do
      runc --root "$REAL/runc/k8s.io" kill "$c" KILL 2>/dev/null || true
      runc --root "$REAL/runc/k8s.io" delete --force "$c" 2>/dev/null || true
    done
  fi
  # shims this bed's containerd started: their command line names our socket
  for p in /proc/[0-9]*; do
    if tr '\0' ' ' 2>/dev/null < "$p/cmdline" | grep -q -- "containerd-shim.* -address $REAL_SOCK"; then kill -9 "${p#/proc/}" 2>/dev/null || true; fi
  done
  real_kill containerd
  # network namespaces containerd made (cni-*) that were not there before up
  for k in /run/netns/cni-*; do
    [[ -e $k ]] || continue
    grep -qx "netns ${k##*/}" "$REAL/host-state" 2>/dev/null || ip netns delete "${k##*/}" 2>/dev/null || true
  done
  # mounts under the bed (pod volumes, rootfs, shm), deepest first
  awk -v d="$BED/" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  ip link delete "$REAL_BRIDGE" 2>/dev/null || true
  "$PY" "$ROOT/hack/testbed/iptables_clean.py" "$REAL_CNI_NET" || log "WARNING: iptables clean-up failed; see iptables-save | grep -E 'KUBE-|$REAL_CNI_NET'"
  for k in /sys/fs/cgroup/*/llmops-bed; do
    [[ -d $k ]] && find "$k" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
  if [[ -d /var/log/containers ]]; then
    find /var/log/containers -maxdepth 1 -type l -lname "$REAL/*" -delete 2>/dev/null || true
  fi
  rm -f /var/lib/cni/results/"$REAL_CNI_NET"-* 2>/dev/null || true
  if [[ -f $REAL/host-state ]]; then
    while read -r what v; do
      case $what in
        sysctl) sysctl -qw "$v" 2>/dev/null || true ;;
        created) rm -rf "$v" ;;
      esac
    done < "$REAL/host-state"
  fi
  log "real node: host state restored in $((SECONDS - t0))s"
}
