"""Make the checkout importable as ``ansible_collections.llmops.vllm_serving`` for pytest."""

import os
import sys

_ROOT = os.path.dirname(os.path.abspath(__file__))
_LINK_PARENT = os.path.join(_ROOT, ".build", "collections", "ansible_collections", "llmops")
_LINK = os.path.join(_LINK_PARENT, "vllm_serving")
if not os.path.islink(_LINK):
    os.makedirs(_LINK_PARENT, exist_ok=True)
    os.symlink(os.path.join("..", "..", "..", ".."), _LINK)
sys.path.insert(0, os.path.join(_ROOT, ".build", "collections"))
