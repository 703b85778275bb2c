#!/usr/bin/env bash
# Install podman/runc/debootstrap when missing and configure podman for this machine (root, no rlimits,
# runc + cgroupfs), as ../shared/TESTBED.md describes. Idempotent; serialised with a lock because several
# scenarios (and people) may call it at once.
set -euo pipefail
LOCK=${LLMOPS_CACHE:-$HOME/.cache/llmops-vllm-serving}/podman-setup.lock
mkdir -p "$(dirname "$LOCK")"
exec 8>"$LOCK"
flock 8
need=()
for b in podman runc debootstrap; do command -v "$b" >/dev/null || need+=("$b"); done
if ((${#need[@]})); then
  echo "[podman-setup] apt-get install ${need[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq "${need[@]}" >/dev/null
fi
conf=/etc/containers/containers.conf
if ! grep -q 'llmops-vllm-serving' "$conf" 2>/dev/null; then
  mkdir -p /etc/containers
  cat > "$conf" <<'CONF'
# written by llmops-vllm-serving hack/podman-setup.sh
[containers]
default_ulimits = []
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
CONF
fi
