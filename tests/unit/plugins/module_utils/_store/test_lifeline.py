"""Issue 14 item 7: a stage stops when the ansible-playbook that started it is gone, without switching, resumably.

Real processes throughout: chains of real children for the watchdog itself, a stub lifeline only to stop the
transaction at chosen points, and one end-to-end run of the real ansible-playbook (local connection) that is
``kill -9``-ed while the module copies a shard from a throttled HTTP mirror on loopback.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from store_helpers import make_model, tree_sha256

from ansible_collections.llmops.vllm_serving.plugins.module_utils._store.fsops import PART_MARK
from ansible_collections.llmops.vllm_serving.plugins.module_utils._store.lifeline import Lifeline, LifelineBroken, Proc, read_stat
from ansible_collections.llmops.vllm_serving.plugins.module_utils._store.sources import HttpSource, LocalSource
from ansible_collections.llmops.vllm_serving.plugins.module_utils._store.store import ModelStore

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), *[".."] * 5))
COLLECTIONS = os.path.join(REPO, ".build", "collections")
pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="the lifeline reads /proc (Linux)")


def _alive(pid, start=None):
    st = read_stat(pid)
    return st is not None and st[0] not in ("Z", "X") and (start is None or st[2] == start)


def _wait_gone(pid, start, timeout):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if not _alive(pid, start):
            return time.monotonic() - t0
        time.sleep(0.01)
    return None


def _children(pid):
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = read_stat(int(name))
            if st is not None and st[1] == pid:
                out.append(int(name))
    return out


def _descendants(pid):
    out, todo = [], [pid]
    while todo:
        for c in _children(todo.pop()):
            out.append(c)
            todo.append(c)
    return out


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return [a.decode() for a in fh.read().split(b"\0") if a]
    except OSError:
        return []


def _kill_recorded(procs):
    """SIGKILL the processes this test started that are still the same process (pid and start time)."""
    for pid, start in procs:
        if _alive(pid, start):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


# ---- the watchdog on real process chains ----------------------------------------------------------------------------

WATCHER = textwrap.dedent(
    """
    import json, os, sys, time
    sys.path.insert(0, {collections!r})
    from ansible_collections.llmops.vllm_serving.plugins.module_utils._store.lifeline import Lifeline, LifelineBroken
    out = sys.argv[1]
    life = Lifeline.of_this_process(interval=0.05)
    with open(out + ".chain", "w") as fh:
        json.dump([[p.pid, p.name, p.controller] for p in life.chain], fh)
    t0 = time.time()
    while time.time() - t0 < 30:
        try:
            life.check("copying")
        except LifelineBroken as err:
            with open(out, "w") as fh:
                fh.write(str(err))
            sys.exit(0)
        time.sleep(0.01)
    sys.exit(7)
    """
)

# a middle process that starts the watcher and waits for it (the shape of ansible's task worker and its sh -c)
MIDDLE = "import subprocess, sys; subprocess.run([sys.executable] + sys.argv[1:])"


def _start_chain(tmp_path, controller_name=None):
    """test -> [controller] -> middle -> watcher; returns (top Popen, watcher pid, out file)."""
    watcher = tmp_path / "watcher.py"
    watcher.write_text(WATCHER.format(collections=COLLECTIONS))
    out = str(tmp_path / "broken.txt")
    cmd = [sys.executable, "-c", MIDDLE, str(watcher), out]
    if controller_name:
        ctl = tmp_path / controller_name
        ctl.write_text("import subprocess, sys; subprocess.run(sys.argv[1:])")
        cmd = [sys.executable, str(ctl)] + cmd
    top = subprocess.Popen(cmd)
    deadline = time.monotonic() + 20
    while not os.path.exists(out + ".chain"):
        assert time.monotonic() < deadline, "the watcher did not start"
        time.sleep(0.01)
    with open(out + ".chain") as fh:
        chain = json.load(fh)
    return top, chain, out


def test_chain_stops_at_the_topmost_ansible_process(tmp_path):
    top, chain, _out = _start_chain(tmp_path, controller_name="ansible-playbook")
    try:
        # watcher's parent (middle) first, the controller last; nothing above the controller is watched
        assert [c[2] for c in chain] == [False, True]
        assert chain[-1][0] == top.pid and chain[-1][1] == "ansible-playbook"
    finally:
        top.kill()
        top.wait()


def test_killing_the_controller_is_seen_even_while_it_is_an_unreaped_zombie(tmp_path):
    top, chain, out = _start_chain(tmp_path, controller_name="ansible-playbook")
    middle = chain[0][0]
    watcher = _children(middle)[0]
    wstart = read_stat(watcher)[2]
    mstart = read_stat(middle)[2]
    try:
        os.kill(top.pid, signal.SIGKILL)  # not reaped: stays a zombie, its pid still exists in /proc
        gone = _wait_gone(watcher, wstart, 30)
        assert gone is not None, "the watcher kept running after its controller was killed"
        assert read_stat(top.pid)[0] == "Z"
        with open(out) as fh:
            msg = fh.read()
        assert msg.startswith("stopped while copying: the run that started this module is gone (")
        assert f"ansible-playbook[{top.pid}] exited" in msg or "re-parented" in msg
        assert "current was not switched" in msg and "run the play again to resume it" in msg
    finally:
        top.wait()
        _kill_recorded([(middle, mstart)])


def test_killing_a_middle_process_is_seen(tmp_path):
    top, chain, out = _start_chain(tmp_path)
    middle = chain[0][0]
    watcher = _children(middle)[0]
    wstart = read_stat(watcher)[2]
    try:
        os.kill(middle, signal.SIGKILL)
        assert _wait_gone(watcher, wstart, 30) is not None
        with open(out) as fh:
            assert f"this module's parent {middle} exited (now re-parented to " in fh.read()
    finally:
        top.wait()


def test_a_reused_pid_is_not_taken_for_the_recorded_process():
    me = os.getpid()
    _state, ppid, start, _comm = read_stat(me)
    life = Lifeline([Proc(me, ppid, start, "ansible-playbook", True)], own_ppid=os.getppid())
    assert life.broken() is None
    life = Lifeline([Proc(me, ppid, start - 1, "ansible-playbook", True)], own_ppid=os.getppid())
    assert life.broken() == f"the controller ansible-playbook[{me}] exited (pid {me} is now another process)"
    life = Lifeline([Proc(me, ppid + 1, start, "sh", False), Proc(os.getppid(), 0, read_stat(os.getppid())[2], "x", True)], own_ppid=os.getppid())
    assert life.broken() == f"ancestor sh[{me}] lost its parent {ppid + 1} (re-parented to {ppid})"


def test_check_is_throttled():
    ticks = [0.0]
    life = Lifeline([Proc(2**22 + 7, 1, 1, "gone", True)], own_ppid=os.getppid(), interval=1.0, clock=lambda: ticks[0])
    with pytest.raises(LifelineBroken):
        life.check("x")
    ticks[0] = 0.5
    life.check("x")  # within the interval: no /proc read, no raise
    ticks[0] = 1.5
    with pytest.raises(LifelineBroken):
        life.check("x")


# ---- the transaction stops where the lifeline breaks, and resumes ---------------------------------------------------


class StopAt:
    """A lifeline that breaks at the first check whose ``doing`` contains ``word`` (after ``after`` such checks)."""

    def __init__(self, word, after=0):
        self.word = word
        self.after = after
        self.seen = []

    def check(self, doing, force=False):
        self.seen.append(doing)
        if self.word in doing:
            if self.after <= 0:
                raise LifelineBroken(f"stopped while {doing}: test")
            self.after -= 1


@pytest.mark.parametrize("word", ["fetching model-00002", "snapshotting", "publishing", "switching current"])
def test_a_broken_lifeline_never_switches_and_the_next_run_resumes(tmp_path, store_root, word):
    src = make_model(str(tmp_path / "src"), tensor_bytes=64 * 1024)
    store = ModelStore(store_root, "m1")
    v1 = store.stage(LocalSource(src))
    v1_sums = tree_sha256(v1["path"])
    make_model(str(tmp_path / "v2"), tensor_bytes=64 * 1024 + 8)
    for f in ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json"):
        shutil.copyfile(str(tmp_path / "v2" / f), os.path.join(src, f))
    stop = StopAt(word, after=2 if word.startswith("fetching") else 0)  # mid-file: after the first chunk
    if word.startswith("fetching"):
        from ansible_collections.llmops.vllm_serving.plugins.module_utils._store import fsops

        chunk, fsops.CHUNK = fsops.CHUNK, 32 * 1024  # several chunks per shard
    try:
        with pytest.raises(LifelineBroken, match="stopped while " + word):
            store.stage(LocalSource(src), lifeline=stop)
    finally:
        if word.startswith("fetching"):
            fsops.CHUNK = chunk
    model_dir = os.path.join(store_root, "m1")
    assert os.readlink(os.path.join(model_dir, "current")) == "releases/" + v1["release"]
    assert store.releases() == [v1["release"]] and tree_sha256(v1["path"]) == v1_sums
    marker = store.read_marker()
    assert marker["release"] and os.path.isdir(os.path.join(model_dir, ".staging"))
    assert not [f for _d, _s, fs in os.walk(model_dir) for f in fs if PART_MARK in f]
    res = store.stage(LocalSource(src))
    assert res["resumed"] is True and res["release"] == marker["release"]
    # what was complete before the stop is not fetched again
    assert res["files_fetched"] == {"fetching model-00002": 2, "snapshotting": 3, "publishing": 0, "switching current": 0}[word]
    got = tree_sha256(res["path"])
    got.pop(".llmops-release.json")
    assert got == tree_sha256(src)
    assert store.current() == res["release"] and store.read_marker() is None


# ---- end to end: kill -9 of the real ansible-playbook while the module copies ---------------------------------------

PLAY = """
- name: Stage m1 from the mirror
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Stage
      llmops.vllm_serving.model_release:
        root: "{{ root }}"
        name: m1
        source: {type: http, url: "{{ url }}", files: "{{ files }}"}
      register: staged
    - name: Keep the result
      ansible.builtin.copy:
        content: "{{ staged | to_json }}"
        dest: "{{ result }}"
        mode: "0644"
"""


def _playbook(tmp_path, url, files, root, result):
    exe = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    if not os.path.exists(exe):
        exe = shutil.which("ansible-playbook")
    if not exe:
        pytest.skip("ansible-playbook is not installed beside this python")
    (tmp_path / "play.yml").write_text(PLAY)
    (tmp_path / "ansible.cfg").write_text("[defaults]\n")
    (tmp_path / "vars.json").write_text(json.dumps({"url": url, "files": files, "root": root, "result": result}))
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(tmp_path / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=COLLECTIONS,
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "ans-local"),
        ANSIBLE_REMOTE_TMP=str(tmp_path / "ans-remote"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
    )
    cmd = [exe, "-i", "localhost,", "-e", "@" + str(tmp_path / "vars.json"), str(tmp_path / "play.yml")]
    return cmd, env


def _mirror_files(directory):
    return sorted(os.path.relpath(os.path.join(d, f), directory) for d, _s, fs in os.walk(directory) for f in fs)


def test_kill_9_of_ansible_playbook_stops_the_module_before_the_switch_and_a_rerun_resumes(tmp_path, store_root, http_mirror):
    src = make_model(str(tmp_path / "mirror"), tensor_bytes=64 * 1024)
    store = ModelStore(store_root, "m1")
    fast = http_mirror(src)
    v1 = store.stage(HttpSource(fast, _mirror_files(src)))
    v1_sums = tree_sha256(v1["path"])
    # v2: two new 8 MiB shards, served at 64 KiB per 50 ms (about 6.5 s per shard)
    make_model(str(tmp_path / "v2"), tensor_bytes=4 * 1024 * 1024)
    for f in ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json"):
        shutil.copyfile(str(tmp_path / "v2" / f), os.path.join(src, f))
    want = tree_sha256(src)
    slow = http_mirror(src, slow=0.05)
    result = str(tmp_path / "result.json")
    cmd, env = _playbook(tmp_path, slow, _mirror_files(src), store_root, result)
    log = open(str(tmp_path / "play.log"), "w")  # noqa: SIM115
    play = subprocess.Popen(cmd, env=env, cwd=str(tmp_path), stdout=log, stderr=subprocess.STDOUT)
    staging = os.path.join(store_root, "m1", ".staging")
    procs = []
    module = None
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and play.poll() is None:
            parts = [os.path.join(d, f) for d, _s, fs in os.walk(staging) for f in fs if PART_MARK in f] if os.path.isdir(staging) else []
            if parts and os.path.getsize(parts[0]) > 0:
                break
            time.sleep(0.02)
        assert play.poll() is None, "the play ended before it could be killed: " + open(str(tmp_path / "play.log")).read()
        assert parts, "no partial shard appeared within 60 s: " + open(str(tmp_path / "play.log")).read()
        for pid in _descendants(play.pid):
            st = read_stat(pid)
            if st is None:
                continue
            procs.append((pid, st[2]))
            argv = _cmdline(pid)
            if len(argv) > 1 and os.path.basename(argv[0]).startswith("python") and argv[1].endswith("AnsiballZ_model_release.py"):
                module = (pid, st[2])
        assert module is not None, f"no model_release module process below ansible-playbook[{play.pid}]: {[_cmdline(p) for p, _s in procs]}"
        os.kill(play.pid, signal.SIGKILL)
        t_kill = time.monotonic()
        play.wait()  # reaped at once, as an interactive shell does
        gone_after = _wait_gone(module[0], module[1], 30)
        assert gone_after is not None, "the module kept running 10 s after ansible-playbook was killed"
        assert gone_after < 5
        # report the measurement (pytest -s / -rA shows it)
        sys.stderr.write(f"\n[lifeline] module process gone {gone_after:.3f} s after kill -9 of ansible-playbook[{play.pid}]\n")
        (tmp_path / "gone_after.txt").write_text(f"{gone_after:.3f}")
        time.sleep(max(0.0, 2.0 - (time.monotonic() - t_kill)))  # had it kept copying, 2 s is enough to notice a switch
        model_dir = os.path.join(store_root, "m1")
        assert os.readlink(os.path.join(model_dir, "current")) == "releases/" + v1["release"]
        assert store.releases() == [v1["release"]] and tree_sha256(v1["path"]) == v1_sums
        marker = store.read_marker()
        assert marker["release"] and os.path.isdir(staging)
        assert not os.path.exists(result)
    finally:
        _kill_recorded(procs)  # the orphaned task worker, if it still waits for its dead controller
        log.close()
    # the operator runs the play again: it resumes the interrupted stage and publishes it
    cmd, env = _playbook(tmp_path, fast, _mirror_files(src), store_root, result)
    rerun = subprocess.run(cmd, env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=120, check=False)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    with open(result) as fh:
        res = json.load(fh)
    assert res["resumed"] is True and res["release"] == marker["release"] and res["previous"] == v1["release"]
    assert store.current() == marker["release"]
    got = tree_sha256(res["path"])
    got.pop(".llmops-release.json")
    assert got == want
    assert store.read_marker() is None and not os.path.exists(staging)
