# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stop a stage when the run that started it is gone (issue 14 item 7).

``kill -9`` of ``ansible-playbook`` does not reach the module: under the local connection the module runs below a
task worker that Ansible started in a session of its own, so the worker and the module keep going after the
controller died, and the module would switch ``current`` after the operator saw the run end. A :class:`Lifeline`
records the module's ancestor chain when the module starts, up to the controller (the topmost ``ansible*``
process) or, on a managed node reached over ssh, the sshd session; :meth:`Lifeline.check` (called per chunk of the
copy, per file of a snapshot and right before the switch) raises :class:`LifelineBroken` once any recorded ancestor
has exited, turned into a zombie, been replaced by another process with the same pid (its start time in
``/proc/<pid>/stat`` differs) or been re-parented (its parent died: re-parenting to pid 1 or a subreaper).

Linux ``/proc`` only; elsewhere only the module's own parent id is watched. Standard library only.
"""

from __future__ import annotations

import os
import time

from .._errors import LlmopsError

# argv[0] / argv[1] basenames that are an Ansible controller process (ansible-playbook forks its task workers, which
# carry the same command line: the topmost of them is the controller)
CONTROLLERS = ("ansible-playbook", "ansible", "ansible-pull", "ansible-console", "ansible-runner")
MAX_DEPTH = 32


class LifelineBroken(LlmopsError):
    """The run that started this process is gone; stop without switching anything."""


class Proc:
    __slots__ = ("pid", "ppid", "start", "name", "controller")

    def __init__(self, pid, ppid, start, name, controller=False):
        self.pid = pid
        self.ppid = ppid
        self.start = start
        self.name = name
        self.controller = controller

    def __repr__(self):
        return f"Proc({self.pid}, ppid={self.ppid}, {self.name!r})"


def read_stat(pid, proc="/proc"):
    """(state, ppid, start time in clock ticks, comm) of ``pid``, or None when there is no such process."""
    try:
        with open(f"{proc}/{pid}/stat", "rb") as fh:
            raw = fh.read().decode("utf-8", "replace")
    except (FileNotFoundError, ProcessLookupError):
        return None
    # comm may hold spaces and parentheses: it runs from the first '(' to the LAST ')'
    lpar, rpar = raw.find("("), raw.rfind(")")
    fields = raw[rpar + 2 :].split()
    # fields[0] is field 3 (state); ppid is field 4; starttime is field 22
    return fields[0], int(fields[1]), int(fields[19]), raw[lpar + 1 : rpar]


def _cmdline(pid, proc="/proc"):
    try:
        with open(f"{proc}/{pid}/cmdline", "rb") as fh:
            return [a.decode("utf-8", "replace") for a in fh.read().split(b"\0") if a]
    except OSError:
        return []


def is_controller(argv):
    return any(os.path.basename(a) in CONTROLLERS for a in argv[:2])


def _dead(state):
    return state in ("Z", "X", "x")


class Lifeline:
    """The ancestors of this process that must stay alive while it works (see the module docstring)."""

    def __init__(self, chain, *, own_ppid=None, interval=0.25, proc="/proc", clock=time.monotonic):
        self.chain = list(chain)
        self.own_ppid = os.getppid() if own_ppid is None else own_ppid
        self.interval = interval
        self.proc = proc
        self.clock = clock
        self._next = 0.0
        self.broken_reason = None

    @classmethod
    def of_this_process(cls, proc="/proc", **kw):
        """Record the chain now: parent, grandparent, ... up to the controller, an sshd session, or pid 1."""
        chain = []
        if os.path.isdir(f"{proc}/self"):
            pid = os.getppid()
            found = None
            while pid > 1 and len(chain) < MAX_DEPTH:
                try:
                    st = read_stat(pid, proc)
                except OSError:
                    break  # /proc mounted with hidepid: watch what we could see
                if st is None or _dead(st[0]):
                    break
                _state, ppid, start, comm = st
                argv = _cmdline(pid, proc)
                ctl = is_controller(argv)
                name = next((os.path.basename(a) for a in argv[:2] if os.path.basename(a) in CONTROLLERS), comm)
                if found is not None and not ctl:
                    break  # the last ansible* process was the controller
                chain.append(Proc(pid, ppid, start, name, ctl))
                if ctl:
                    found = len(chain) - 1
                elif comm.startswith("sshd"):
                    break  # the ssh session that carries this task: the controller's end of it is beyond our sight
                pid = ppid
        return cls(chain, proc=proc, **kw)

    @property
    def anchor(self):
        return self.chain[-1] if self.chain else None

    def describe(self):
        return " <- ".join(f"{p.name}[{p.pid}]" for p in self.chain) or f"parent[{self.own_ppid}]"

    def broken(self):
        """Why the chain is broken, or None while every recorded ancestor is the same live process."""
        if os.getppid() != self.own_ppid:
            return f"this module's parent {self.own_ppid} exited (now re-parented to {os.getppid()})"
        for i, p in enumerate(self.chain):
            try:
                st = read_stat(p.pid, self.proc)
            except OSError:
                continue  # cannot tell (hidepid): not a reason to stop
            what = "the controller" if p.controller and i == len(self.chain) - 1 else "ancestor"
            if st is None or _dead(st[0]):
                return f"{what} {p.name}[{p.pid}] exited"
            if st[2] != p.start:
                return f"{what} {p.name}[{p.pid}] exited (pid {p.pid} is now another process)"
            # the anchor's own parent may come and go (nohup, a closed terminal); below it, a new parent means
            # the process in between died
            if i < len(self.chain) - 1 and st[1] != p.ppid:
                return f"{what} {p.name}[{p.pid}] lost its parent {p.ppid} (re-parented to {st[1]})"
        return None

    def check(self, doing="working", force=False):
        """Raise LifelineBroken when the chain is broken; reads /proc at most every ``interval`` seconds."""
        now = self.clock()
        if not force and now < self._next:
            return
        self._next = now + self.interval
        why = self.broken()
        if why:
            self.broken_reason = why
            raise LifelineBroken(
                f"stopped while {doing}: the run that started this module is gone ({why}; chain recorded at start: {self.describe()}); "
                "current was not switched. The partial stage is kept: run the play again to resume it"
            )
