# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# Apache License 2.0 (see LICENSE)
"""vLLM release knowledge: which ``vllm serve`` flags and Prometheus metric names each release has."""
