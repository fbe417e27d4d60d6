"""``moorage gc --dry-run`` predicts, then ``moorage gc`` is killed with SIGKILL in the middle of its
sweep (one blob per batch, a pause after each, so the kill lands while it deletes), then run again:
nothing referenced was lost at any point, no link or reference points at missing bytes, and the
second run collects the rest. On SQLite and PostgreSQL; the registry's data is made in this process
with the real services."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import exists, or_, select

from moorage.metadata.tables import blobs, manifest_references, repository_blobs
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, DATABASES
from tests.services.gc_support import Registry, image, migrated_template, open_registry

GARBAGE_IMAGES = 30
HOUR_MS = 3600 * 1000


@pytest.fixture(params=DATABASES)
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Registry]:
    url = (
        f"sqlite:///{tmp_path / 'moorage.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_database_url")
    )
    migrated_template(url)
    opened = open_registry(url, tmp_path / "storage")
    yield opened
    opened.db.dispose()


def _gc(registry: Registry, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    full_env = {
        **os.environ,
        "MOORAGE_DATA_DIR": str(registry.root.parent),
        "MOORAGE_DATABASE_URL": registry.db.url,
        "MOORAGE_AUTH__ADMIN_USER": ADMIN_USER,
        "MOORAGE_AUTH__ADMIN_PASSWORD": ADMIN_PASSWORD,
        "MOORAGE_GC__GRACE_SECONDS": "3600",
        **(env or {}),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "moorage", "gc", "--json", *extra],
        env=full_env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def _files(registry: Registry) -> set[str]:
    """The blobs whose bytes are on disk (os.walk: a directory the running collector removes while
    this looks is skipped, where Path.rglob raised FileNotFoundError)."""
    return {
        f"sha256:{Path(directory).name}" for directory, _, names in os.walk(registry.root / "blobs") if "data" in names
    }


def _used_without_bytes(registry: Registry) -> list[str]:
    """Blobs a link or a manifest reference still points at, whose bytes are not stored."""
    used = registry.db.run_read(
        lambda conn: (
            conn.execute(
                select(blobs.c.digest).where(
                    or_(
                        exists().where(repository_blobs.c.digest == blobs.c.digest),
                        exists().where(manifest_references.c.digest == blobs.c.digest),
                    )
                )
            )
            .scalars()
            .all()
        )
    )
    return [digest for digest in used if not registry.has_bytes(digest)]


async def test_gc_killed_mid_sweep_loses_nothing_and_the_next_run_finishes(registry: Registry) -> None:
    kept = [image(b"shared base " * 200, f"kept {i}".encode() * 100) for i in range(3)]
    for i, pushed in enumerate(kept):
        await registry.push("team/kept", str(i), pushed)
    garbage = [image(b"shared base " * 200, f"garbage {i}".encode() * 100) for i in range(GARBAGE_IMAGES)]
    for i, pushed in enumerate(garbage):
        await registry.push("team/tmp", str(i), pushed)
        await registry.delete("team/tmp", pushed.digest)
    registry.age(2 * HOUR_MS)
    wanted = {d for pushed in kept for d in pushed.blobs}
    collectable = {d for pushed in garbage for d in pushed.blobs} - wanted
    assert len(collectable) == 2 * GARBAGE_IMAGES
    before = _files(registry)
    dry = _gc(registry, "--dry-run")
    out, err = dry.communicate(timeout=300)
    assert dry.returncode == 0, err
    predicted = json.loads(out)
    assert (predicted["dry_run"], predicted["blobs"]) == (True, len(collectable))
    assert predicted["bytes"] == sum(len(p.blobs[d]) for p in garbage for d in p.blobs if d in collectable)
    assert _files(registry) == before

    first = _gc(registry, env={"MOORAGE_GC__BATCH_SIZE": "1", "MOORAGE_GC__PAUSE_MS": "150"})
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and len(before - _files(registry)) < 8:
            assert first.poll() is None, first.communicate()
            time.sleep(0.05)
        os.killpg(first.pid, signal.SIGKILL)
    finally:
        first.kill()
        first.communicate()
    gone_at_kill = before - _files(registry)
    assert 8 <= len(gone_at_kill) < len(collectable)
    assert gone_at_kill <= collectable
    assert _used_without_bytes(registry) == []
    for i, pushed in enumerate(kept):
        await registry.pull("team/kept", str(i), pushed)

    second = _gc(registry)
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err
    figures = json.loads(out)
    assert figures["status"] == "Success" and figures["errors"] == 0
    assert figures["blobs"] + len(gone_at_kill) >= len(collectable)
    assert registry.blob_rows() == wanted and _files(registry) == wanted
    assert _used_without_bytes(registry) == []
    for i, pushed in enumerate(kept):
        await registry.pull("team/kept", str(i), pushed)
