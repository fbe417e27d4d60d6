"""Every job kind has exactly one handler, and the worker's table of handlers is keyed by the values
the job rows hold (a row written before ``JobKind`` existed still finds its handler)."""

from __future__ import annotations

from moorage.domain.jobs import JobKind
from moorage.jobs.kinds import HANDLERS, handler_for


def test_every_kind_has_its_handler() -> None:
    assert set(HANDLERS) == set(JobKind)
    assert len(set(map(id, HANDLERS.values()))) == len(JobKind), "two kinds share a handler"
    for kind in JobKind:
        assert HANDLERS[kind] is handler_for(kind)


def test_rows_find_their_handler_by_the_stored_string() -> None:
    stored = {
        "registry.purge_uploads",
        "enterprise.sign_execution",
        "security.scan_task",
        "security.sync_task",
        "security.scan_on_push",
        "security.scan_artifact",
        "security.rematch",
        "security.vulndb_update",
        "events.webhook_delivery",
        "events.prune",
        "registry.retention_run",
        "enterprise.retention_execution",
        "registry.gc",
        "registry.image_sync",
        "enterprise.replication_execution",
    }
    assert {kind.value for kind in JobKind} == stored
    assert all(HANDLERS.get(kind) is not None for kind in stored)
