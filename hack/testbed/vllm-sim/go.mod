module local/llmops-vllm-sim

go 1.24
