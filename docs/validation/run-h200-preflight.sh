#!/usr/bin/env bash
# Run the gpu_node preflight for real on a GPU host, offline, with `ansible-playbook -c local`.
# Usage (from the repository root): docs/validation/run-h200-preflight.sh <dir of ansible-core wheels> <output dir>
# The wheels come from: pip download ansible-core==2.19.14 --only-binary=:all: --python-version 3.12 \
#   --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 --implementation cp -d <dir>
set -uo pipefail
WHEELS=$(cd "$1" && pwd); OUT=$2
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
mkdir -p "$OUT"
export LC_ALL=C.UTF-8 LANG=C.UTF-8
SITE=$(mktemp -d /tmp/ansible-site.XXXX)
if ! python3 -m pip install -q --no-index --find-links "$WHEELS" --target "$SITE" ansible-core==2.19.14 >"$OUT/pip.log" 2>&1; then
  echo "pip unavailable; unpacking the wheels onto PYTHONPATH" >>"$OUT/pip.log"
  for w in "$WHEELS"/*.whl; do python3 -m zipfile -e "$w" "$SITE"; done
fi
export PYTHONPATH=$SITE
hack/collection-link.sh
export ANSIBLE_COLLECTIONS_PATH=$ROOT/.build/collections ANSIBLE_CONFIG=$ROOT/ansible.cfg ANSIBLE_NOCOLOR=1

# raw evidence next to the report
{ date -u; uname -a; grep -E '^(PRETTY_NAME|VERSION_ID)=' /etc/os-release; python3 --version; python3 -c 'import ansible; print("ansible-core", ansible.__version__)'; } >"$OUT/host.txt" 2>&1
nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1
cat /proc/driver/nvidia/version >"$OUT/proc_driver_nvidia_version.txt" 2>&1
grep -E '^(nvidia|nouveau)' /proc/modules >"$OUT/proc_modules_nvidia.txt" 2>&1
for b in containerd crio docker nvidia-ctk nv-fabricmanager lspci lsmod; do printf '%s: %s\n' "$b" "$(command -v "$b" || echo absent)"; done >"$OUT/binaries.txt"

run() {  # run NAME extra-vars...
  local name=$1; shift
  mkdir -p "$OUT/$name"
  local cmd=(python3 -m ansible playbook -c local -i localhost, -e target=localhost -e ansible_python_interpreter=/usr/bin/python3
             -e "gpu_node_preflight_report_dir=$OUT/$name" "$@" playbooks/preflight.yml)
  printf '%q ' "${cmd[@]}" | sed "s#$OUT#\$OUT#g" >"$OUT/$name/command.txt"; echo >>"$OUT/$name/command.txt"
  "${cmd[@]}" >"$OUT/$name/ansible.log" 2>&1
  echo $? >"$OUT/$name/rc"
  echo "== $name: rc=$(cat "$OUT/$name/rc")"; cat "$OUT/$name/localhost.txt" 2>/dev/null || tail -30 "$OUT/$name/ansible.log"
}

# 1. what an inventory for this host says: 1 x H200, image CUDA 12.9, 50 GiB for the model store
run as-inventoried -e gpu_node_expected_gpu_count=1 -e gpu_node_expected_gpu_model=NVIDIA-H200 -e gpu_node_cuda_version=12.9 \
  -e gpu_node_model_store_path=/var/lib/llmops/models -e gpu_node_model_store_min_free_gib=50
# 2. GPU Operator provides the driver, CUDA 13.0 image: kernel headers must be present for the driver build
run operator-driver-cuda13 -e gpu_node_driver_source=operator -e gpu_node_cuda_version=13.0 -e gpu_node_expected_gpu_count=1
# 3. a wrong inventory: 8 x H100 with MIG wanted - must fail, and say why
run wrong-inventory -e gpu_node_expected_gpu_count=8 -e gpu_node_expected_gpu_model=NVIDIA-H100-80GB-HBM3 -e gpu_node_mig_mode=enabled
exit 0
