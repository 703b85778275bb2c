# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The transaction: plan, snapshot (hard links), fetch changed files to new inodes, verify, switch, prune."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import stat
import time

from .._errors import LlmopsError
from .fsops import (
    PART_MARK,
    describe_oserror,
    free_bytes,
    fsync_dir,
    link_tree,
    make_writable_tree,
    remove_tree,
    sha256_file,
    switch_symlink,
    write_json,
    write_stream,
)
from .lifeline import LifelineBroken
from .sources import RECORD_NAME
from .verify import verify_release

MODEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
RELEASE_RE = re.compile(r"^(\d{8}T\d{6}Z)(?:-(\d+))?$")
FILE_MODE = 0o444
DIR_MODE = 0o555
# Space kept free beyond the bytes a stage needs (metadata, the release record, other writers): 10 %, at most this.
HEADROOM = 16 * 1024 * 1024


def release_key(name):
    m = RELEASE_RE.match(name)
    if not m:
        return (name, 0)
    return (m.group(1), int(m.group(2) or 0))


def new_release_name(existing, now=None):
    """UTC timestamp name, after every existing release even if the clock stepped back (then ``<newest>-N``)."""
    base = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    stamped = [release_key(n) for n in existing if RELEASE_RE.match(n)]
    n = 0
    if stamped:
        latest = max(stamped)
        if base <= latest[0]:
            base, n = latest[0], latest[1] + 1
    name = base if not n else f"{base}-{n}"
    while name in existing:
        n += 1
        name = f"{base}-{n}"
    return name


class ModelStore:
    def __init__(self, root, model):
        if not root or not os.path.isabs(root):
            raise LlmopsError(f"root={root!r} must be an absolute path, e.g. /srv/models")
        if not isinstance(model, str) or not MODEL_RE.match(model):
            raise LlmopsError(
                f"model={model!r} is not a valid model directory name: use letters, digits, '.', '_' or '-' (no '/'), e.g. 'llama-3.1-8b-instruct'"
            )
        self.root = root
        self.model = model
        self.model_dir = os.path.join(root, model)
        self.releases_dir = os.path.join(self.model_dir, "releases")
        self.current_link = os.path.join(self.model_dir, "current")
        self.staging_dir = os.path.join(self.model_dir, ".staging")
        self.marker_path = os.path.join(self.model_dir, ".staging.json")
        self.journal_path = os.path.join(self.model_dir, ".staging.journal")
        self._lock_fd = None

    # ---- reading state -------------------------------------------------------------------------
    def release_dir(self, name):
        return os.path.join(self.releases_dir, name)

    def releases(self):
        try:
            names = [n for n in os.listdir(self.releases_dir) if os.path.isdir(self.release_dir(n))]
        except FileNotFoundError:
            return []
        except OSError as err:
            raise describe_oserror(err, "listing", self.releases_dir) from err
        return sorted(names, key=release_key)

    def current(self):
        try:
            target = os.readlink(self.current_link)
        except FileNotFoundError:
            return None
        except OSError as err:
            if err.errno == errno.EINVAL:
                raise LlmopsError(
                    f"{self.current_link} exists but is not a symlink; move it away: the store manages 'current' as a link to releases/<name>"
                ) from err
            raise describe_oserror(err, "reading", self.current_link) from err
        return os.path.basename(target.rstrip("/"))

    def read_record(self, name):
        path = os.path.join(self.release_dir(name), RECORD_NAME)
        try:
            with open(path, "rb") as fh:
                return json.loads(fh.read().decode("utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as err:
            raise LlmopsError(f"{path}: unreadable release record ({err})") from err

    def read_marker(self):
        try:
            with open(self.marker_path, "rb") as fh:
                return json.loads(fh.read().decode("utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {"release": None, "base": None, "corrupt": True}

    # ---- locking -------------------------------------------------------------------------------
    def lock(self, create):
        """flock(2) the model directory itself (no lock file to create, so check mode writes nothing)."""
        if not os.path.isdir(self.model_dir):
            if not create:
                return
            try:
                os.makedirs(self.model_dir, mode=0o755, exist_ok=True)
            except OSError as err:
                raise describe_oserror(err, "creating", self.model_dir) from err
        fd = os.open(self.model_dir, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            raise LlmopsError(f"{self.model_dir} is locked by another model_release run (stage or rollback in progress); wait for it to finish") from err
        self._lock_fd = fd

    def unlock(self):
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # ---- planning ------------------------------------------------------------------------------
    def plan(self, source, checksum=False, checksums=None):
        entries = source.list_entries(checksum=checksum)
        revision = source.resolve_revision()
        cur = self.current()
        record = self.read_record(cur) if cur else {}
        cur_files = record.get("files", {})
        cur_dir = self.release_dir(cur) if cur else None
        by_path = {}
        added, changed, unchanged = [], [], []
        for e in entries:
            by_path[e.path] = e
            c = cur_files.get(e.path)
            if c is None:
                added.append(e.path)
                continue
            full = os.path.join(cur_dir, e.path)
            try:
                intact = os.path.getsize(full) == c.get("size")
            except OSError:
                intact = False
            if not intact:
                changed.append(e.path)
                continue
            if e.sha256:
                same = e.sha256 == c.get("sha256")
            elif e.fingerprint and e.fingerprint == c.get("fingerprint") and not checksum:
                same = True
            elif hasattr(source, "content_sha256"):
                e.sha256 = source.content_sha256(e)
                same = e.sha256 == c.get("sha256")
            else:
                same = False
            want = (checksums or {}).get(e.path)
            if same and want and want != c.get("sha256"):
                same = False
            (unchanged if same else changed).append(e.path)
        for path in sorted(checksums or {}):
            if path not in by_path:
                raise LlmopsError(f"checksums lists {path!r}, which the source does not provide; fix the manifest or the source's file list")
        removed = sorted(p for p in cur_files if p not in by_path)
        revision_changed = revision is not None and revision != record.get("revision")
        needed = sum((by_path[p].size or 0) for p in added + changed)
        return {
            "current": cur,
            "record": record,
            "entries": by_path,
            "revision": revision,
            "added": sorted(added),
            "changed": sorted(changed),
            "unchanged": sorted(unchanged),
            "removed": removed,
            "needs_release": bool(cur is None or added or changed or removed or revision_changed),
            "bytes_needed": needed,
        }

    # ---- permissions ---------------------------------------------------------------------------
    def ensure_permissions(self, top, uid=None, gid=None, check_mode=False, skip_top=False):
        """Files 0444, directories 0555, owned by uid:gid. Returns how many paths needed a fix."""
        fixed = 0
        for dirpath, _dirnames, filenames in os.walk(top):
            paths = [(dirpath, DIR_MODE)] if not (skip_top and dirpath == top) else []
            paths += [(os.path.join(dirpath, f), FILE_MODE) for f in filenames if PART_MARK not in f]
            for path, mode in paths:
                st = os.lstat(path)
                if stat.S_ISLNK(st.st_mode):
                    continue
                want_uid = st.st_uid if uid is None else uid
                want_gid = st.st_gid if gid is None else gid
                bad_mode = stat.S_IMODE(st.st_mode) != mode
                bad_owner = (st.st_uid, st.st_gid) != (want_uid, want_gid)
                if not (bad_mode or bad_owner):
                    continue
                fixed += 1
                if check_mode:
                    continue
                try:
                    if bad_owner:
                        os.lchown(path, want_uid, want_gid)
                    if bad_mode:
                        os.chmod(path, mode)
                except OSError as err:
                    raise describe_oserror(err, "setting owner/mode of", path) from err
        return fixed

    # ---- retention -----------------------------------------------------------------------------
    def prunable(self, keep, names, current):
        if not keep:
            return []
        ordered = sorted(names, key=release_key)
        kept = set(ordered[-keep:])
        kept.add(current)
        return [n for n in ordered if n not in kept]

    def prune(self, keep, check_mode=False):
        victims = self.prunable(keep, self.releases(), self.current())
        if not check_mode:
            for name in victims:
                remove_tree(self.release_dir(name))
        return victims

    # ---- staging -------------------------------------------------------------------------------
    def _discard_staging(self):
        if os.path.lexists(self.staging_dir):
            remove_tree(self.staging_dir)
        for p in (self.journal_path, self.marker_path):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass

    def _read_journal(self):
        done = {}
        try:
            with open(self.journal_path, "rb") as fh:
                for line in fh:
                    try:
                        rec = json.loads(line.decode("utf-8"))
                        done[rec["path"]] = rec
                    except (ValueError, KeyError):
                        break  # a torn last line from a kill
        except FileNotFoundError:
            pass
        return done

    def _journal(self, rec):
        with open(self.journal_path, "ab") as fh:
            # no fsync per entry: a resumed entry is only trusted when the file still hashes to its sha256
            fh.write(json.dumps(rec, sort_keys=True).encode("utf-8") + b"\n")

    def stage(
        self,
        source,
        *,
        checksum=False,
        checksums=None,
        uid=None,
        gid=None,
        keep=3,
        check_mode=False,
        require_files=("config.json",),
        require_tokenizer=True,
        progress=None,
        lifeline=None,
    ):
        """Make ``current`` hold exactly what ``source`` provides. Returns a result dict (see module RETURN).

        ``lifeline``: a :class:`.lifeline.Lifeline` (or anything with ``check(doing, force=False)``) consulted per
        chunk copied, per file linked and right before the switch; when it raises, the stage stops with the
        partial state kept for the next run to resume and ``current`` untouched.
        """
        self.lock(create=not check_mode)
        try:
            return self._stage(
                source,
                checksum=checksum,
                checksums=checksums,
                uid=uid,
                gid=gid,
                keep=keep,
                check_mode=check_mode,
                require_files=require_files,
                require_tokenizer=require_tokenizer,
                progress=progress,
                lifeline=lifeline,
            )
        finally:
            self.unlock()
            cleanup = getattr(source, "cleanup", None)
            if cleanup is not None and not check_mode:
                cleanup()

    def _stage(self, source, *, checksum, checksums, uid, gid, keep, check_mode, require_files, require_tokenizer, progress, lifeline):
        def alive(doing, force=False):
            if lifeline is not None:
                lifeline.check(doing, force=force)

        plan = self.plan(source, checksum=checksum, checksums=checksums)
        cur = plan["current"]
        marker = self.read_marker()
        result = {
            "model": self.model,
            "previous": cur,
            "added": plan["added"],
            "changed_files": plan["changed"],
            "removed": plan["removed"],
            "resumed": False,
            "staging_discarded": False,
            "revision": plan["revision"],
            "source": source.describe(),
            "files_fetched": 0,
            "files_linked": 0,
            "verification": {},
        }
        if not plan["needs_release"]:
            result["release"] = cur
            result["revision"] = plan["record"].get("revision")
            if marker is not None:
                result["staging_discarded"] = True
                if not check_mode:
                    self._discard_staging()
            fixed = self.ensure_permissions(self.release_dir(cur), uid, gid, check_mode=check_mode)
            pruned = self.prune(keep, check_mode=check_mode)
            result.update(permissions_fixed=fixed, pruned=pruned, changed=bool(fixed or pruned or result["staging_discarded"]))
            return self._finish(result)

        existing = self.releases()
        resume = marker is not None and not marker.get("corrupt") and marker.get("base") == cur
        if resume and marker.get("release") in existing and not os.path.isdir(self.staging_dir):
            resume = False  # killed between rename and switch: that release stays, unreferenced; restage
        name = marker["release"] if resume else new_release_name(existing)
        result["release"] = name
        result["resumed"] = resume
        result["staging_discarded"] = marker is not None and not resume
        if check_mode:
            result["pruned"] = self.prunable(keep, existing + [name], name)
            result["permissions_fixed"] = 0
            result["changed"] = True
            return self._finish(result)

        free = free_bytes(self.model_dir)
        if free is not None and plan["bytes_needed"] + min(HEADROOM, plan["bytes_needed"] // 10) > free:
            raise LlmopsError(
                "not enough space for release {} of {}: {} bytes to fetch ({} files), {} bytes free on the "
                "filesystem of {}; free space or grow the volume, nothing was changed".format(
                    name,
                    self.model,
                    plan["bytes_needed"],
                    len(plan["added"]) + len(plan["changed"]),
                    free,
                    self.model_dir,
                )
            )
        if result["staging_discarded"]:
            self._discard_staging()
        if not resume:
            write_json(
                self.marker_path,
                {
                    "release": name,
                    "base": cur,
                    "pid": os.getpid(),
                    "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "source": source.describe(),
                },
            )
        try:
            os.makedirs(self.staging_dir, exist_ok=True)
        except OSError as err:
            raise describe_oserror(err, "creating", self.staging_dir) from err
        make_writable_tree(self.staging_dir)
        for dirpath, _d, filenames in os.walk(self.staging_dir):
            for f in filenames:
                if PART_MARK in f:
                    os.unlink(os.path.join(dirpath, f))
        cur_dir = self.release_dir(cur) if cur else None
        if cur_dir:
            result["files_linked"] = link_tree(
                cur_dir, self.staging_dir, skip=(RECORD_NAME,), on_file=lambda: alive(f"snapshotting release {cur} into release {name}")
            )
        for rel in plan["removed"]:
            path = os.path.join(self.staging_dir, rel)
            if os.path.lexists(path):
                os.unlink(path)
            parent = os.path.dirname(path)
            while parent != self.staging_dir and os.path.isdir(parent) and not os.listdir(parent):
                os.rmdir(parent)
                parent = os.path.dirname(parent)

        journal = self._read_journal() if resume else {}
        cur_files = plan["record"].get("files", {})
        files = {}
        for rel, e in plan["entries"].items():
            if rel in plan["unchanged"]:
                rec = dict(cur_files[rel])
                rec["fingerprint"] = e.fingerprint
                files[rel] = rec
        try:
            for rel in plan["added"] + plan["changed"]:
                e = plan["entries"][rel]
                dest = os.path.join(self.staging_dir, rel)
                done = journal.get(rel)
                if (
                    done
                    and os.path.isfile(dest)
                    and os.path.getsize(dest) == done["size"]
                    and not (cur_dir and os.path.lexists(os.path.join(cur_dir, rel)) and os.path.samefile(dest, os.path.join(cur_dir, rel)))
                    and sha256_file(dest) == done["sha256"]
                ):
                    files[rel] = {"size": done["size"], "sha256": done["sha256"], "fingerprint": e.fingerprint}
                    continue
                doing = f"fetching {rel} for release {name}"
                alive(doing)
                reader = source.open(e)
                try:
                    size, sha = write_stream(reader, dest, e.size, durable=False, on_chunk=lambda doing=doing: alive(doing))
                finally:
                    reader.close()
                if e.sha256 and sha != e.sha256:
                    raise LlmopsError(f"{rel}: downloaded sha256 {sha} does not match the source's {e.sha256}; current was not switched")
                files[rel] = {"size": size, "sha256": sha, "fingerprint": e.fingerprint}
                self._journal({"path": rel, "size": size, "sha256": sha})
                result["files_fetched"] += 1
                if progress:
                    progress(rel, size)
        except LlmopsError as err:
            if not isinstance(err, LifelineBroken) and "sha256" in str(err):
                self._discard_staging()
            raise
        record = {
            "model": self.model,
            "release": name,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "base": cur,
            "revision": plan["revision"],
            "source": source.describe(),
            "files": files,
        }
        write_json(os.path.join(self.staging_dir, RECORD_NAME), record)
        try:
            result["verification"] = verify_release(
                self.staging_dir,
                files=files,
                require_files=require_files,
                require_tokenizer=require_tokenizer,
                checksums=checksums,
                expected_sizes={p: e.size for p, e in plan["entries"].items()},
                label=name,
                remedy="re-stage from a complete source: replace the files named above at {} with complete copies (a download or copy "
                "that was cut short leaves such files) and re-run; current still points to {}".format(
                    source.describe().get("location"), cur or "nothing (this was the first stage)"
                ),
            )
        except LlmopsError:
            self._discard_staging()  # a bad release is never resumed: the next run fetches afresh
            raise
        self.ensure_permissions(self.staging_dir, uid, gid, skip_top=True)
        os.sync()  # one flush of every new inode before the rename and the switch (not one fsync per file)
        alive(f"publishing release {name}", force=True)
        try:
            os.makedirs(self.releases_dir, exist_ok=True)
            os.rename(self.staging_dir, self.release_dir(name))
        except OSError as err:
            raise describe_oserror(err, "moving the staged release to", self.release_dir(name)) from err
        fsync_dir(self.releases_dir)
        self.ensure_permissions(self.release_dir(name), uid, gid)
        try:
            alive(f"switching current to release {name}", force=True)
        except LifelineBroken:
            # back to staging, so the next run resumes (re-verifies and switches) instead of fetching it all again;
            # should that fail, the release stays unreferenced and the next run stages afresh: current is untouched either way
            try:
                os.chmod(self.release_dir(name), 0o755)
                os.rename(self.release_dir(name), self.staging_dir)
                fsync_dir(self.model_dir)
            except OSError:
                pass
            raise
        switch_symlink(self.current_link, "releases/" + name)
        for p in (self.journal_path, self.marker_path):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass
        result["pruned"] = self.prune(keep)
        result["permissions_fixed"] = 0
        result["changed"] = True
        return self._finish(result)

    # ---- rollback ------------------------------------------------------------------------------
    def rollback(self, target="previous", check_mode=False, rehash=False, require_files=("config.json",), require_tokenizer=True):
        self.lock(create=False)
        try:
            cur = self.current()
            names = self.releases()
            if not names:
                raise LlmopsError(f"{self.model_dir} has no releases to roll back to; stage one first")
            if target in (None, "", "previous"):
                older = [n for n in names if cur is None or release_key(n) < release_key(cur)]
                if not older:
                    raise LlmopsError(f"no release older than current {cur!r} of {self.model}; releases: {names}")
                target = older[-1]
            elif target not in names:
                raise LlmopsError(f"release={target!r} does not exist for {self.model}; releases: {names} ('previous' picks the one before current)")
            record = self.read_record(target)
            result = {
                "model": self.model,
                "previous": cur,
                "release": target,
                "added": [],
                "changed_files": [],
                "removed": [],
                "pruned": [],
                "resumed": False,
                "staging_discarded": False,
                "revision": record.get("revision"),
                "source": record.get("source", {}),
                "files_fetched": 0,
                "files_linked": 0,
                "permissions_fixed": 0,
            }
            if cur is not None:
                cur_files = self.read_record(cur).get("files", {})
                tgt_files = record.get("files", {})
                result["added"] = sorted(p for p in tgt_files if p not in cur_files)
                result["removed"] = sorted(p for p in cur_files if p not in tgt_files)
                result["changed_files"] = sorted(p for p in tgt_files if p in cur_files and tgt_files[p].get("sha256") != cur_files[p].get("sha256"))
            result["verification"] = verify_release(
                self.release_dir(target),
                files=record.get("files", {}),
                require_files=require_files,
                require_tokenizer=require_tokenizer,
                rehash=rehash,
                label=target,
                remedy="roll back to another release ({}) or stage a new one from the source".format(", ".join(n for n in names if n != target) or "none"),
            )
            result["changed"] = target != cur
            if result["changed"] and not check_mode:
                switch_symlink(self.current_link, "releases/" + target)
            return self._finish(result)
        finally:
            self.unlock()

    def _finish(self, result):
        name = result.get("release")
        result["path"] = self.release_dir(name) if name else None
        result["current_path"] = self.current_link
        result["relative_path"] = f"{self.model}/releases/{name}" if name else None
        result["relative_current_path"] = f"{self.model}/current"
        names = self.releases()
        if name and name not in names:
            names.append(name)
        result["releases"] = [n for n in sorted(names, key=release_key) if n not in result.get("pruned", [])]
        return result
