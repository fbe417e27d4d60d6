"""The suite's CPU profile counts a process tree whose members exit, are reaped by their parent or
by init (orphans), or outlive their parent: the tree's CPU never goes down, and what a counted
process reaped is not counted twice. Readings made up first, then real processes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

from tests.support.cpu_profile import Key, ProcessCpu, TreeCpu, read_processes, tree_cpu

ROOT = 100
SERVER: Key = (200, 1)
WORKER: Key = (300, 2)
INIT = 1


def _tree() -> TreeCpu:
    tree = TreeCpu(ROOT)
    first = {SERVER: ProcessCpu(ROOT, own=2.0, reaped=0.0), WORKER: ProcessCpu(SERVER[0], own=5.0, reaped=0.0)}
    assert tree.update(first, root_own=1.0, root_reaped=0.0) == 8.0
    return tree


def test_a_child_waited_for_by_its_parent_is_counted_once() -> None:
    tree = _tree()
    # the worker used 1 s more, exited, and the server waited for it: it is in the server's ``reaped``
    assert tree.update({SERVER: ProcessCpu(ROOT, own=2.0, reaped=6.0)}, root_own=1.0, root_reaped=0.0) == 9.0
    # then the server exits and the root waits for it (the worker's CPU comes with it)
    assert tree.update({}, root_own=1.0, root_reaped=8.5) == 9.5
    assert tree.lost == 0.0


def test_workers_of_a_killed_server_reaped_by_init_are_kept() -> None:
    tree = _tree()
    # killpg: the server dies first, the root waits for it; the worker, reparented to init, is
    # reaped there: only the server's own CPU reaches the root
    assert tree.update({}, root_own=1.0, root_reaped=2.0) == 8.0
    assert tree.lost == 5.0


def test_an_orphan_keeps_counting_while_it_lives() -> None:
    tree = _tree()
    orphaned = {WORKER: ProcessCpu(INIT, own=7.0, reaped=0.0)}
    assert tree.update(orphaned, root_own=1.0, root_reaped=2.0) == 10.0
    assert tree.update({}, root_own=1.0, root_reaped=2.0) == 10.0  # reaped by init


def test_a_reused_pid_is_another_process() -> None:
    tree = _tree()
    reused = {SERVER: ProcessCpu(ROOT, own=2.0, reaped=0.0), (WORKER[0], 99): ProcessCpu(SERVER[0], 0.5, 0.0)}
    assert tree.update(reused, root_own=1.0, root_reaped=0.0) == 8.5  # the first worker's 5 s are kept


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def test_the_tree_of_this_process_never_goes_down_when_a_grandchild_is_orphaned() -> None:
    """A child that forks a busy grandchild is killed before it: the grandchild's CPU, seen while it
    ran, stays counted once init has reaped it (it used to leave the sum)."""
    script = (
        "import os, signal, time\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    end = time.process_time() + 0.4\n"
        "    while time.process_time() < end: pass\n"
        "    print('busy done', flush=True)\n"
        "    signal.pause()\n"
        "print(pid, flush=True)\n"
        "signal.pause()\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    grandchild = int(child.stdout.readline())
    assert child.stdout.readline().strip() == "busy done"
    try:
        seen = tree_cpu()
        mine = [p for (pid, _), p in read_processes().items() if pid == grandchild]
        assert mine and mine[0].own >= 0.3
        child.kill()  # the grandchild is orphaned
        child.wait()
        os.kill(grandchild, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _running(grandchild):
            time.sleep(0.05)  # until init reaped it (or holds it as a zombie: counted all the same)
        assert tree_cpu() >= seen
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        with contextlib.suppress(ProcessLookupError):
            os.kill(grandchild, signal.SIGKILL)
