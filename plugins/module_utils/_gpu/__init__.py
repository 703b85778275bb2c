# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure GPU-node knowledge: parsers for what a real NVIDIA node offers, CUDA/driver rules, preflight verdicts,
container-runtime configuration plans. Standard library only; runs on managed nodes (Python 3.8+)."""
