# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Transactional model store: timestamped hard-link releases, atomic ``current`` switch.

Standard library only (runs on managed nodes, Python 3.8+). Layout::

    <root>/<model>/releases/<UTC timestamp>/   one immutable release per stage
    <root>/<model>/current -> releases/<name>  relative symlink, switched by rename(2)
    <root>/<model>/.staging/                   the release being built (hard links + new inodes)
    <root>/<model>/.staging.json               marker: an interrupted stage is detected and resumed
"""
