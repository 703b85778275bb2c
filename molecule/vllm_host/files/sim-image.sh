#!/usr/bin/env bash
# The test bed's vLLM simulator (hack/testbed/vllm-sim) as an image named like the real one (vllm/vllm-openai:vX),
# built as hack/testbed/realnode.sh builds it (static Go binary + busybox for the healthcheck's wget, packed by
# hack/testbed/pack_image.py), cached per source hash, and loaded into podman when podman lacks it.
# usage: sim-image.sh IMAGE   (prints "loaded IMAGE" on stderr when it loaded it: the caller's changed_when)
set -euo pipefail
IMAGE=${1:?usage: sim-image.sh IMAGE}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
CACHE=${LLMOPS_CACHE:-$HOME/.cache/llmops-vllm-serving}
SRC=$ROOT/hack/testbed
PY=$ROOT/.venv/bin/python
key=$(cat "$SRC/vllm-sim/go.mod" "$SRC/vllm-sim/main.go" "$SRC/pack_image.py" <(go version) <(echo "$IMAGE") | sha256sum | cut -c1-16)
dir=$CACHE/images/vllm-host-$key
mkdir -p "$CACHE/images" "$CACHE/debs"
exec 9>"$CACHE/images/vllm-host.lock"
flock 9
if [[ ! -f $dir/vllm-openai.tar ]]; then
  rm -rf "$dir.tmp"; mkdir -p "$dir.tmp"
  (cd "$SRC/vllm-sim" && GOCACHE=$CACHE/gobuild CGO_ENABLED=0 GOFLAGS= nice -n 10 go build -trimpath -ldflags "-s -w" -o "$dir.tmp/vllm" .)
  debs=("$CACHE"/debs/busybox-static_*.deb)
  if [[ ! -f ${debs[0]} ]]; then
    (cd "$CACHE/debs" && apt-get download busybox-static >/dev/null 2>&1) || { echo "apt-get download busybox-static failed" >&2; exit 1; }
    debs=("$CACHE"/debs/busybox-static_*.deb)
  fi
  dpkg-deb -x "${debs[0]}" "$dir.tmp/bb"
  links=()
  for a in sh sleep cat ls env echo wget timeout test true false grep; do links+=("bin/$a@=/bin/busybox"); done
  "$PY" "$SRC/pack_image.py" "$dir.tmp/vllm-openai.tar" "$IMAGE" '[]' \
    "usr/local/bin/vllm=$dir.tmp/vllm" "bin/busybox=$dir.tmp/bb/bin/busybox" "${links[@]}"
  rm -rf "$dir.tmp/bb" "$dir.tmp/vllm" "$dir"; mv "$dir.tmp" "$dir"
fi
# podman names an unqualified archive tag localhost/<name>; the role asks for docker.io/<name> (the qualified form
# Docker Engine would record too), so the image gets that name and loses the localhost one.
qualified=docker.io/$IMAGE
want=$(tar -xOf "$dir/vllm-openai.tar" manifest.json | "$PY" -c 'import json,sys;print(json.load(sys.stdin)[0]["Config"].split(".")[0])')
have=$(podman image inspect --format '{{.Id}}' "$qualified" 2>/dev/null || true)
if [[ $have != "$want" ]]; then
  podman load -q -i "$dir/vllm-openai.tar" >/dev/null
  podman tag "localhost/$IMAGE" "$qualified"
  podman untag "localhost/$IMAGE" "localhost/$IMAGE"
  echo "loaded $IMAGE as $qualified" >&2
fi
