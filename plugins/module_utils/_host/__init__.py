# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""vLLM on a single GPU host without Kubernetes: one container per model (``docker run vllm/vllm-openai``)."""
