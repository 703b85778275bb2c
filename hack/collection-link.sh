#!/usr/bin/env bash
# Make the checkout importable as ansible_collections.llmops.vllm_serving (for ansible-playbook, molecule, pytest).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$ROOT/.build/collections/ansible_collections/llmops"
ln -sfn ../../../.. "$ROOT/.build/collections/ansible_collections/llmops/vllm_serving"
