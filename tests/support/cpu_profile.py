"""Where the suite's time goes, per test file: wall time and CPU time of the pytest process and every
process it started (servers, their workers, clients), so that trimming the suite aims at what costs.

On when ``MOORAGE_TEST_PROFILE`` names a directory: each pytest process (xdist worker) appends one JSON
line per file to ``<dir>/<worker>.jsonl``. ``python -m tests.support.cpu_profile <dir>`` prints the
files by CPU time. The suite is CPU-bound on two cores, so CPU seconds, not wall seconds, say what a
change would save.

CPU of a file = the change, between its first and its last test, of this process's own and reaped
children's CPU plus the CPU of every live descendant (with what they reaped): a session-wide server's
work lands on the files that made it work.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

PROFILE_ENV = "MOORAGE_TEST_PROFILE"
_TICKS = os.sysconf("SC_CLK_TCK")


def _descendants_cpu() -> float:
    """CPU seconds of every live descendant of this process (including what each has reaped)."""
    children: dict[int, list[int]] = defaultdict(list)
    cpu: dict[int, float] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        children[int(fields[1])].append(pid)
        cpu[pid] = sum(int(value) for value in fields[11:15]) / _TICKS
    total, stack = 0.0, list(children[os.getpid()])
    while stack:
        pid = stack.pop()
        total += cpu.get(pid, 0.0)
        stack.extend(children[pid])
    return total


def tree_cpu() -> float:
    """CPU seconds of this process, the children it reaped and its live descendants."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime + _descendants_cpu()


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
