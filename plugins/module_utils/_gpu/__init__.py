# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# Apache License 2.0 (see LICENSE)
"""Pure GPU-node knowledge: parsers for what a real NVIDIA node offers, CUDA/driver rules, preflight verdicts,
container-runtime configuration plans. Standard library only; runs on managed nodes (Python 3.8+)."""
