# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# Apache License 2.0 (see LICENSE)
"""Transactional model store: timestamped hard-link releases, atomic ``current`` switch.

Standard library only (runs on managed nodes, Python 3.8+). Layout::

    <root>/<model>/releases/<UTC timestamp>/   one immutable release per stage
    <root>/<model>/current -> releases/<name>  relative symlink, switched by rename(2)
    <root>/<model>/.staging/                   the release being built (hard links + new inodes)
    <root>/<model>/.staging.json               marker: an interrupted stage is detected and resumed
"""
