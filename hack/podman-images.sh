#!/usr/bin/env bash
# Build (once) and load a minimal Debian image for node-level Molecule scenarios, from debootstrap:
# no registry is reachable. Usage: hack/podman-images.sh bookworm [trixie ...]
# Result: podman image localhost/llmops-debian:<suite>; rootfs tarball cached under ~/.cache.
set -euo pipefail
CACHE=${LLMOPS_CACHE:-$HOME/.cache/llmops-vllm-serving}/images
ROOT=$(cd "$(dirname "$0")/.." && pwd)
log() { printf '[images %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

"$ROOT/hack/podman-setup.sh"
mkdir -p "$CACHE"
for suite in "${@:-bookworm}"; do
  image=localhost/llmops-debian:$suite
  if podman image exists "$image"; then log "$image: present"; continue; fi
  tarball=$CACHE/debian-$suite-rootfs.tar
  if [[ ! -s $tarball ]]; then
    log "$suite: debootstrap (minbase + python3; a few minutes cold)"
    rootfs=$(mktemp -d /tmp/llmops-rootfs-$suite.XXXX)
    debootstrap --variant=minbase --include=python3,ca-certificates "$suite" "$rootfs" http://deb.debian.org/debian >/dev/null
    # contrib/non-free(-firmware) so nvidia-smi & co. are installable inside
    echo "deb http://deb.debian.org/debian $suite main contrib non-free non-free-firmware" > "$rootfs/etc/apt/sources.list"
    rm -f "$rootfs"/etc/apt/sources.list.d/*.sources 2>/dev/null || true
    tar -C "$rootfs" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"
  fi
  log "$suite: podman import $image"
  podman import "$tarball" "$image" >/dev/null
done
