#!/bin/sh
# Replays what nvidia-smi printed on the real H200 host (tests/fixtures/h200), per sub-command the gpu_facts
# module runs. A fixture replay, not a driver: it stands for the H200 node in the preflight scenario.
F=/opt/llmops-h200/fixtures
case "$1" in
  -q) cat "$F/nvidia-smi-q-x.xml" ;;
  topo) cat "$F/nvidia-smi-topo.txt" ;;
  --query-gpu=index,uuid,compute_cap) printf 'index, uuid, compute_cap\n0, GPU-a1f914b4-debe-c8d7-d663-c68fcfdf0c10, 9.0\n' ;;
  mig) cat "$F/nvidia-smi-mig-lgip.txt" ;;
  *) cat "$F/nvidia-smi.txt" ;;
esac
