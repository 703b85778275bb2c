#!/usr/bin/env bash
# Build (once) and load a minimal Debian image for node-level Molecule scenarios, from debootstrap:
# no registry is reachable. Usage: hack/podman-images.sh bookworm [trixie ...]
# Result: podman image localhost/llmops-debian:<suite>; rootfs tarball cached under ~/.cache
# (keyed by suite and this script's recipe version), so a cold CI machine pays debootstrap once.
set -euo pipefail
CACHE=${LLMOPS_CACHE:-$HOME/.cache/llmops-vllm-serving}/images
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RECIPE=2   # bump when the rootfs recipe below changes
log() { printf '[images %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

"$ROOT/hack/podman-setup.sh"
mkdir -p "$CACHE"
for suite in "${@:-bookworm}"; do
  case $suite in bookworm|trixie) ;; *) echo "unknown suite '$suite'; use bookworm or trixie" >&2; exit 2;; esac
  image=localhost/llmops-debian:$suite
  # one builder per suite at a time (other scenarios may ask for the same image concurrently)
  exec 9>"$CACHE/$suite.lock"
  flock 9
  if podman image exists "$image"; then log "$image: present"; exec 9>&-; continue; fi
  tarball=$CACHE/debian-$suite-r$RECIPE-rootfs.tar
  if [[ ! -s $tarball ]]; then
    log "$suite: debootstrap (minbase + python3; a few minutes cold)"
    rootfs=$(mktemp -d "/tmp/llmops-rootfs-$suite.XXXX")
    debootstrap --variant=minbase --include=python3,ca-certificates "$suite" "$rootfs" http://deb.debian.org/debian >/dev/null
    # contrib/non-free(-firmware) so nvidia-smi & co. are installable inside
    echo "deb http://deb.debian.org/debian $suite main contrib non-free non-free-firmware" > "$rootfs/etc/apt/sources.list"
    rm -f "$rootfs"/etc/apt/sources.list.d/*.sources 2>/dev/null || true
    # containers have no init: keep apt from trying to start services while installing packages
    printf '#!/bin/sh\nexit 101\n' > "$rootfs/usr/sbin/policy-rc.d" && chmod 0755 "$rootfs/usr/sbin/policy-rc.d"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* 2>/dev/null || true
    tar -C "$rootfs" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"
  fi
  log "$suite: podman import $image"
  podman import --change 'CMD ["sleep","infinity"]' "$tarball" "$image" >/dev/null
  exec 9>&-
done
