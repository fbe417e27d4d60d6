"""The stored and wire spellings of scan-result, task, task-item and registry statuses stay what the
database rows and the HSS wire already hold, and every decision on them covers every status."""

from __future__ import annotations

from dataclasses import replace

import pytest

from moorage.api.hss.tasks import SyncStatus, progress_number, registry_sync_status
from moorage.domain.security import (
    ENDED_TASK_STATUSES,
    OPEN_ITEM_STATUSES,
    RegistryStatus,
    ScanResultRecord,
    ScanResultStatus,
    ScanStatus,
    ScanSummary,
    SecurityTask,
    TaskItemStatus,
    TaskStatus,
)
from moorage.services.security.results import row_values


def test_spellings_are_the_stored_ones() -> None:
    assert [str(s) for s in ScanResultStatus] == ["new", "scanning", "success", "failed"]
    assert [str(s) for s in TaskStatus] == ["waiting", "running", "finished", "stopped", "failed"]
    assert [str(s) for s in TaskItemStatus] == ["waiting", "running", "success", "failed", "stopped"]
    assert [str(s) for s in RegistryStatus] == ["success", "fail", "accessing"]
    assert [str(s) for s in SyncStatus] == ["finished", "running", "failed"]


def test_ended_and_open_statuses() -> None:
    assert {s for s in TaskStatus if s.ended} == set(ENDED_TASK_STATUSES) == {"finished", "stopped", "failed"}
    assert {s for s in TaskItemStatus if not s.done} == set(OPEN_ITEM_STATUSES) == {"waiting", "running"}
    assert {s for s in ScanResultStatus if s.finished} == {"success", "failed"}


def _result(status: ScanResultStatus) -> ScanResultRecord:
    return ScanResultRecord("sha256:" + "a" * 64, status, "", "", "", ScanSummary(), "", "db", 1, 10, 20)


@pytest.mark.parametrize("status", list(ScanResultStatus))
def test_every_result_status_gives_an_image_row_status(status: ScanResultStatus) -> None:
    expected = {
        ScanResultStatus.NEW: ScanStatus.UNSCAN,
        ScanResultStatus.SCANNING: ScanStatus.SCANNING,
        ScanResultStatus.SUCCESS: ScanStatus.SUCCESS,
        ScanResultStatus.FAILED: ScanStatus.FAILED,
    }
    assert row_values(_result(status))["scan_status"] == expected[status]
    assert row_values(None)["scan_status"] == ScanStatus.UNSCAN


def test_sync_status_and_progress_of_every_status() -> None:
    assert {s: registry_sync_status(s) for s in TaskItemStatus} == {
        "waiting": "running",
        "running": "running",
        "success": "finished",
        "failed": "failed",
        "stopped": "failed",
    }
    task = SecurityTask(
        "t", "d", "image_scan", "manual", "n", "j", "", 0, 0, False, TaskStatus.RUNNING, 4, 1, 1, 0, "", 0, 0, 0
    )
    assert {s: progress_number(replace(task, status=s)) for s in TaskStatus} == {
        "waiting": 50,
        "running": 50,
        "finished": 100,
        "stopped": -1,
        "failed": -3,
    }
