"""CPU seconds of a server and every process under it (granian's workers, huey's), from /proc.

Wall-clock figures on a shared 2-core machine swing with other work; CPU time per operation moves
much less, so each workload also reports what the server's process tree spent on it. A child that
exits during the workload is counted through its parent's ``cutime``/``cstime`` once it is reaped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

PROC = Path("/proc")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its closing one.
    return raw[raw.rindex(")") + 2 :].split()


def _children(pid: int) -> list[int]:
    found: list[int] = []
    task_dir = PROC / str(pid) / "task"
    try:
        tasks = os.listdir(task_dir)
    except OSError:
        return found
    for task in tasks:
        try:
            found.extend(int(child) for child in (task_dir / task / "children").read_text().split())
        except OSError:
            continue
    return found


def _tree(root: int) -> Iterator[int]:
    """``root`` and its descendants, each once (a process that exits meanwhile is skipped by the
    caller's read failing)."""
    pending = [root]
    seen: set[int] = set()
    while pending:
        pid = pending.pop()
        if pid in seen:
            continue
        seen.add(pid)
        yield pid
        pending.extend(_children(pid))


def tree_cpu_seconds(root: int) -> float:
    """utime + stime (and reaped children's) of ``root`` and its descendants, in seconds."""
    total = 0
    for pid in _tree(root):
        fields = _stat_fields(pid)
        if fields is not None:
            # After the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
            total += sum(int(value) for value in fields[11:15])
    return total / os.sysconf("SC_CLK_TCK")


def tree_context_switches(root: int) -> int:
    """Context switches (voluntary and not) of every live thread of ``root`` and its descendants: how
    often the server's threads went to sleep and woke (hand-offs between threads cost wake-ups, and on
    a busy machine each wake-up waits for a CPU). Threads that exited are not counted."""
    total = 0
    for pid in _tree(root):
        task_dir = PROC / str(pid) / "task"
        try:
            tasks = os.listdir(task_dir)
        except OSError:
            continue
        for task in tasks:
            try:
                status = (task_dir / task / "status").read_text()
            except OSError:
                continue
            total += sum(int(line.split()[1]) for line in status.splitlines() if "ctxt_switches:" in line)
    return total
