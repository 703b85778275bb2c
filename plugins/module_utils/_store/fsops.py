# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filesystem primitives: atomic writes, hard-link trees, symlink switch, errors a user can act on."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import stat

from .._errors import LlmopsError

CHUNK = 4 * 1024 * 1024
PART_MARK = ".llmops-part-"
_ZEROS = bytes(CHUNK)


def describe_oserror(err, action, path):
    """Turn an OSError into an LlmopsError that says what failed, where, and what to do."""
    code = getattr(err, "errno", None)
    if code in (errno.ENOSPC, errno.EDQUOT):
        where = _existing_parent(path)
        try:
            free = shutil.disk_usage(where).free
        except OSError:
            free = -1
        return LlmopsError(
            f"no space left on device while {action} {path} (filesystem of {where}: {free} bytes free); "
            "free space or raise the volume size, then re-run: the current release is untouched and "
            "the partial stage is resumed"
        )
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        return LlmopsError(
            f"permission denied while {action} {path} ({os.strerror(code)}); "
            "run as a user that can write the store root (become: true, or own the directory), "
            "and make sure the filesystem is not mounted read-only"
        )
    return LlmopsError(f"{action} {path} failed: {err}")


def _existing_parent(path):
    p = os.path.abspath(path)
    while not os.path.exists(p) and os.path.dirname(p) != p:
        p = os.path.dirname(p)
    return p


def fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def part_name(dest):
    d, b = os.path.split(dest)
    return os.path.join(d, "." + b + PART_MARK + str(os.getpid()))


def write_stream(reader, dest, expected_size=None, durable=True, on_chunk=None):
    """Copy ``reader`` (has .read(n)) to a NEW inode next to ``dest`` and rename it in.

    Never modifies ``dest`` in place (a hard-linked snapshot may share its inode). Zero chunks are
    skipped with a seek, so sparse shards stay sparse. ``on_chunk()`` is called before each chunk is
    read (it may raise to stop: the partial inode is removed, ``dest`` untouched). Returns (size, sha256 hex).
    """
    parent = os.path.dirname(dest)
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as err:
        raise describe_oserror(err, "creating directory", parent) from err
    tmp = part_name(dest)
    digest = hashlib.sha256()
    size = 0
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o644)
    except OSError as err:
        raise describe_oserror(err, "creating", tmp) from err
    try:
        read = getattr(reader, "read1", None) or reader.read  # read1: write as bytes arrive (HTTP)
        try:
            while True:
                if on_chunk is not None:
                    on_chunk()
                chunk = read(CHUNK)
                if not chunk:
                    break
                digest.update(chunk)
                size += len(chunk)
                if len(chunk) >= 65536 and chunk == (_ZEROS if len(chunk) == CHUNK else bytes(len(chunk))):
                    os.lseek(fd, len(chunk), os.SEEK_CUR)
                    continue
                view = memoryview(chunk)
                while view:
                    n = os.write(fd, view)
                    view = view[n:]
            os.ftruncate(fd, size)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        if expected_size is not None and size != expected_size:
            raise LlmopsError(
                f"{dest}: received {size} bytes but the source announced {expected_size}; "
                "the transfer was cut short or the source changed while staging; re-run to fetch it again"
            )
        os.replace(tmp, dest)
    except OSError as err:
        _unlink_quiet(tmp)
        raise describe_oserror(err, "writing", dest) from err
    except BaseException:
        _unlink_quiet(tmp)
        raise
    return size, digest.hexdigest()


def write_json(dest, data):
    body = json.dumps(data, indent=1, sort_keys=True).encode("utf-8") + b"\n"

    class _R:
        def __init__(self):
            self.done = False

        def read(self, _n):
            if self.done:
                return b""
            self.done = True
            return body

    write_stream(_R(), dest)


def _unlink_quiet(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def sha256_file(path):
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while True:
                chunk = fh.read(CHUNK)
                if not chunk:
                    break
                digest.update(chunk)
    except OSError as err:
        raise describe_oserror(err, "reading", path) from err
    return digest.hexdigest()


def walk_files(top, skip=()):
    """Relative POSIX paths of regular files under ``top`` (symlinks followed only for files), sorted."""
    out = []
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, top)
        for name in filenames:
            rel = name if rel_dir == "." else os.path.join(rel_dir, name).replace(os.sep, "/")
            if rel in skip or PART_MARK in name:
                continue
            full = os.path.join(dirpath, name)
            if os.path.isfile(full):
                out.append(rel)
    out.sort()
    return out


def link_tree(src, dst, skip=(), on_file=None):
    """``cp -al src/. dst/``: recreate directories, hard-link every regular file. O(files), not O(bytes).

    Existing destination files are kept (so an interrupted snapshot is completed, not redone).
    ``on_file()`` is called before each link (it may raise to stop). Returns the number of links created.
    """
    made = 0
    for dirpath, _dirnames, filenames in os.walk(src):
        rel_dir = os.path.relpath(dirpath, src)
        target_dir = dst if rel_dir == "." else os.path.join(dst, rel_dir)
        try:
            os.makedirs(target_dir, exist_ok=True)
            os.chmod(target_dir, 0o755)
        except OSError as err:
            raise describe_oserror(err, "creating directory", target_dir) from err
        for name in filenames:
            rel = name if rel_dir == "." else os.path.join(rel_dir, name).replace(os.sep, "/")
            if rel in skip:
                continue
            s = os.path.join(dirpath, name)
            t = os.path.join(target_dir, name)
            if os.path.lexists(t):
                continue
            if on_file is not None:
                on_file()
            try:
                os.link(s, t, follow_symlinks=False)
            except OSError as err:
                if err.errno == errno.EXDEV:
                    raise LlmopsError(f"cannot hard-link {s} to {t}: different filesystems; the releases of one model must live on one filesystem") from err
                raise describe_oserror(err, "hard-linking", t) from err
            made += 1
    return made


def make_writable_tree(top):
    for dirpath, _dirnames, _filenames in os.walk(top):
        try:
            mode = stat.S_IMODE(os.lstat(dirpath).st_mode)
            if not mode & stat.S_IWUSR:
                os.chmod(dirpath, mode | stat.S_IWUSR | stat.S_IXUSR)
        except OSError:
            pass


def remove_tree(top):
    """rm -rf that also works on read-only release directories (0555)."""
    if not os.path.lexists(top):
        return
    if os.path.islink(top) or not os.path.isdir(top):
        os.unlink(top)
        return
    make_writable_tree(top)
    try:
        shutil.rmtree(top)
    except OSError as err:
        raise describe_oserror(err, "removing", top) from err


def switch_symlink(link, target):
    """Point ``link`` at ``target`` atomically: new symlink under a temp name, then rename(2) over ``link``."""
    tmp = f"{link}.llmops-new-{os.getpid()}"
    _unlink_quiet(tmp)
    try:
        os.symlink(target, tmp)
        os.replace(tmp, link)
    except OSError as err:
        _unlink_quiet(tmp)
        raise describe_oserror(err, "switching", link) from err
    fsync_dir(os.path.dirname(link))


def free_bytes(path):
    try:
        return shutil.disk_usage(_existing_parent(path)).free
    except OSError:
        return None
