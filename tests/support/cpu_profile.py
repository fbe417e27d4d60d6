"""Where the suite's time goes, per test file: wall time and CPU time of the pytest process and every
process it started (servers, their workers, clients), so that trimming the suite aims at what costs.

On when ``MOORAGE_TEST_PROFILE`` names a directory: each pytest process (xdist worker) appends one JSON
line per file to ``<dir>/<worker>.jsonl``. ``python -m tests.support.cpu_profile <dir>`` prints the
files by CPU time. The suite is CPU-bound on two cores, so CPU seconds, not wall seconds, say what a
change would save.

CPU of a file = the change, between its first and its last test, of this process's own and reaped
children's CPU plus the CPU of every descendant (with what they reaped), kept when a descendant exits
without its CPU reaching a counted process (``TreeCpu``), so that no file comes out negative: a
session-wide server's work lands on the files that made it work.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

PROFILE_ENV = "MOORAGE_TEST_PROFILE"
_TICKS = os.sysconf("SC_CLK_TCK")


Key = tuple[int, int]
"""A process: its pid and its start time (clock ticks after boot), as a pid may be reused."""


@dataclass(frozen=True, slots=True)
class ProcessCpu:
    """One process as ``/proc/<pid>/stat`` shows it."""

    parent: int
    own: float
    """CPU seconds of the process itself (user and system)."""
    reaped: float
    """CPU seconds of its children that exited and that it waited for."""


def read_processes() -> dict[Key, ProcessCpu]:
    """Every process of the machine (a zombie too: exited, not yet waited for)."""
    found: dict[Key, ProcessCpu] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        own = (int(fields[11]) + int(fields[12])) / _TICKS
        reaped = (int(fields[13]) + int(fields[14])) / _TICKS
        found[(int(entry.name), int(fields[19]))] = ProcessCpu(int(fields[1]), own, reaped)
    return found


class TreeCpu:
    """CPU seconds of a process and its descendants, which never go down between two readings.

    A descendant's CPU is read from ``/proc`` while it lives and lands, once it has exited, in the
    ``reaped`` figure of the process that waited for it (``RUSAGE_CHILDREN`` for the root). When
    that process is not counted (a server killed before its workers: they are reparented to init,
    which reaps them), the CPU would leave the sum and a file's CPU could come out negative. So every
    descendant seen stays a member while it lives (an orphan too), and when members vanish, whatever
    of their last-seen CPU their nearest counted ancestor's ``reaped`` did not gain is kept as lost.
    A process born and gone between two readings and reaped by no member is not seen at all."""

    _ROOT: Key = (-1, -1)

    def __init__(self, root: int) -> None:
        self.root = root
        self.members: dict[Key, ProcessCpu] = {}
        self.root_reaped = 0.0
        self.lost = 0.0
        """CPU seconds of vanished members that no member's ``reaped`` took over."""

    def update(self, processes: Mapping[Key, ProcessCpu], root_own: float, root_reaped: float) -> float:
        """The tree's CPU seconds given a reading of every process (``read_processes``) and the
        root's own and reaped CPU (``getrusage``)."""
        children: dict[int, list[Key]] = defaultdict(list)
        for key, process in processes.items():
            children[process.parent].append(key)
        current: dict[Key, ProcessCpu] = {}
        pending = [key for key in self.members if key in processes] + children[self.root]
        while pending:
            key = pending.pop()
            if key not in current:
                current[key] = processes[key]
                pending.extend(children[key[0]])
        gone = {key: process for key, process in self.members.items() if key not in processes}
        owed: dict[Key, float] = defaultdict(float)
        for key, process in gone.items():
            reaper = self._reaper(key, gone, current)
            if reaper is None:
                self.lost += process.own + process.reaped
            else:
                owed[reaper] += process.own + process.reaped
        for reaper, amount in owed.items():
            if reaper == self._ROOT:
                gained = root_reaped - self.root_reaped
            else:
                before = self.members.get(reaper)
                gained = current[reaper].reaped - (before.reaped if before is not None else 0.0)
            self.lost += max(0.0, amount - gained)
        self.members = current
        self.root_reaped = root_reaped
        return root_own + root_reaped + sum(p.own + p.reaped for p in current.values()) + self.lost

    def _reaper(self, key: Key, gone: Mapping[Key, ProcessCpu], current: Mapping[Key, ProcessCpu]) -> Key | None:
        """The nearest ancestor of a vanished member that is still counted: a live member, the root
        (``_ROOT``), or None when the chain leaves the tree (the member was an orphan)."""
        seen: set[Key] = set()
        while key not in seen:
            seen.add(key)
            parent = gone[key].parent
            if parent == self.root:
                return self._ROOT
            parent_key = next((k for k in self.members if k[0] == parent), None)
            if parent_key is None:
                return None
            if parent_key in current:
                return parent_key
            if parent_key not in gone:
                return None
            key = parent_key
        return None


_tree: TreeCpu | None = None


def tree_cpu() -> float:
    """CPU seconds of this process, the children it reaped and its descendants (``TreeCpu``): never
    less than at the previous call."""
    global _tree
    if _tree is None or _tree.root != os.getpid():  # (a forked child counts its own tree)
        _tree = TreeCpu(os.getpid())
    own = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    return _tree.update(read_processes(), own.ru_utime + own.ru_stime, reaped.ru_utime + reaped.ru_stime)


class FileProfile:
    """Per-file wall and CPU time of one pytest process."""

    def __init__(self, directory: Path, worker: str) -> None:
        self.path = directory / f"{worker}.jsonl"
        self.current: str | None = None
        self.started = (0.0, 0.0)

    def _close(self) -> None:
        if self.current is None:
            return
        wall, cpu = time.monotonic() - self.started[0], tree_cpu() - self.started[1]
        with self.path.open("a") as handle:
            handle.write(json.dumps({"file": self.current, "wall": round(wall, 2), "cpu": round(cpu, 2)}) + "\n")
        self.current = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        name = nodeid.split("::", 1)[0]
        if name != self.current:
            self._close()
            self.current = name
            self.started = (time.monotonic(), tree_cpu())

    def pytest_sessionfinish(self) -> None:
        self._close()


def register(config: pytest.Config) -> None:
    """Install the plugin when ``MOORAGE_TEST_PROFILE`` is set."""
    directory = os.environ.get(PROFILE_ENV)
    if not directory:
        return
    Path(directory).mkdir(parents=True, exist_ok=True)
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        return  # the xdist controller sees every worker's tests (and counts them all as its children)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    config.pluginmanager.register(FileProfile(Path(directory), worker), "moorage-file-profile")


COLUMNS = ("cpu", "wall", "starts", "wait", "start cpu")


def main(directory: str) -> None:
    """Print the files of a profiled run, most CPU first, with the totals: CPU and wall seconds, and the
    servers each file waited for (``starts-*.jsonl``, written by tests/support/servers.py): how many,
    the wall seconds spent waiting for them to answer, and the CPU spent meanwhile."""
    totals: dict[str, dict[str, float]] = defaultdict(lambda: dict.fromkeys(COLUMNS, 0.0))
    for path in Path(directory).glob("*.jsonl"):
        starts = path.name.startswith("starts-")
        for line in path.read_text().splitlines():
            row = json.loads(line)  # a file's tests may come in several runs (xdist sends them in batches)
            figures = totals[row["file"]]
            if starts:
                figures["starts"] += 1
                figures["wait"] += row["wait"]
                figures["start cpu"] += row.get("cpu") or 0.0
            else:
                figures["wall"] += row["wall"]
                figures["cpu"] += row["cpu"]
    rows = sorted(totals.items(), key=lambda item: -item[1]["cpu"])
    rows.append((f"total ({len(rows)} files)", {key: sum(f[key] for _, f in rows) for key in COLUMNS}))
    print(f"{'cpu s':>8} {'wall s':>8} {'starts':>6} {'wait s':>7} {'start cpu':>9}  file")
    for name, f in rows:
        print(f"{f['cpu']:8.1f} {f['wall']:8.1f} {f['starts']:6.0f} {f['wait']:7.1f} {f['start cpu']:9.1f}  {name}")


if __name__ == "__main__":
    main(sys.argv[1])
