# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one error type of the collection's pure core.

Every message names the offending value, why it is wrong and what would work, e.g.
``tensor_parallel_size=3 does not divide num_attention_heads=32; valid: [1, 2, 4, 8]``.
Modules turn it into ``fail_json(msg=str(err))``.
"""

from __future__ import annotations


class LlmopsError(ValueError):
    """A user-actionable error raised by module_utils code."""
