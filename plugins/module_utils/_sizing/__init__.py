# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure sizing core: will a model fit on a GPU, and how many KV-cache tokens will vLLM get.

Layers (each knows only the ones before it):
``dtypes`` (tables) -> ``arch`` (config.json -> ModelArch) -> ``weights`` / ``kv`` ->
``releases`` (per-vLLM-release behaviour) -> ``memory`` (the budget, in bytes) -> ``parallel``.
``gpus`` is the GPU catalog. Standard library only; raises only ``LlmopsError``.
"""

from __future__ import annotations

GIB = 1 << 30
MIB = 1 << 20
