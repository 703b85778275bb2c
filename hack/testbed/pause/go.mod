module local/llmops-pause

go 1.24
