"""Scan and sync tasks: created from an API request or a schedule, run as one job each, listed,
stopped. A task's items are the images (or registries) it works through; the job records each
item's outcome, so a job run again after its worker died resumes where the last one stopped."""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence

from sqlalchemy.engine import Connection

from moorage.domain.errors import Invalid, NotFound
from moorage.domain.identity import Principal
from moorage.domain.jobs import JobKind, JobStatus, JobSubmitter
from moorage.domain.security import (
    BUILTIN_FOR_IMAGE_TYPE,
    OPEN_ITEM_STATUSES,
    SCOPE_ALL,
    ImageFilter,
    ImageRow,
    ImageVisibility,
    ScanPolicy,
    ScanStatus,
    SecurityTask,
    TaskItem,
    TaskItemStatus,
    TaskStatus,
)
from moorage.domain.security_images import ImageSelector
from moorage.domain.security_tasks import NewItem, TaskQuery
from moorage.metadata.database import Database, now_ms
from moorage.metadata.queries import security_images as images_q
from moorage.metadata.queries import security_registries as registries_q
from moorage.metadata.queries import security_tasks as q
from moorage.services.security.images import account_of, image_visibility
from moorage.services.security.results import restore_rows

MAX_TASK_IMAGES = 20000
VALID_CYCLES = (1, 3, 7, 14)
VALID_TIME_SCOPES = (0, 1, 3, 7, 30)


def _task_name(kind: str) -> str:
    return f"{kind}-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{secrets.token_hex(2)}"


class TaskService:
    """Scan and sync tasks, and the scheduled-scan policy."""

    def __init__(self, db: Database, jobs: JobSubmitter) -> None:
        self.db = db
        self.jobs = jobs

    def _resolve(self, conn: Connection, seen: ImageVisibility, selectors: Sequence[ImageSelector]) -> list[ImageRow]:
        domain_id = seen.domain_id
        rows: dict[int, ImageRow] = {}
        for selector in selectors:
            found: ImageRow | None = None
            if selector.row_id is not None:
                matches = images_q.by_ids(conn, seen, [selector.row_id])
                found = matches[0] if matches else None
            else:
                registry_ids = (
                    [selector.registry_id]
                    if selector.registry_id
                    else [
                        registries_q.builtin_id(domain_id, BUILTIN_FOR_IMAGE_TYPE[t])
                        for t in (
                            (selector.image_type,)
                            if selector.image_type in BUILTIN_FOR_IMAGE_TYPE
                            else ("private_image", "shared_image", "instance_image")
                        )
                    ]
                )
                for registry_id in registry_ids:
                    found = images_q.find_tag(
                        conn, registry_id, selector.namespace, selector.image_name, selector.image_version
                    )
                    if found is not None and not images_q.by_ids(conn, seen, [found.id]):
                        found = None  # not one the caller sees
                    if found is not None:
                        break
            if found is None or (selector.image_digest and found.image_digest != selector.image_digest):
                label = (
                    f"id {selector.row_id}"
                    if selector.row_id is not None
                    else f"{selector.namespace}/{selector.image_name}:{selector.image_version}"
                )
                raise NotFound(f"image {label} is not in the image list; synchronize first", reason="image_not_found")
            if found.parent_id is not None:
                parent = images_q.by_id(conn, found.parent_id)
                found = parent or found
            rows[found.id] = found
        return list(rows.values())

    async def create_scan_task(
        self,
        principal: Principal,
        *,
        selectors: Sequence[ImageSelector] = (),
        everything: ImageFilter | None = None,
        scan_scope: int = SCOPE_ALL,
        rate_limit: int = 0,
        task_type: str = "manual",
    ) -> SecurityTask:
        """A scan task over the images named, or over every image matching ``everything``; its job is sent."""
        seen = image_visibility(principal)
        if not 0 <= rate_limit <= 1000:
            raise Invalid("rate_limit must be from 0 to 1000 images per hour")
        if everything is None and not selectors:
            raise Invalid("name the images to scan, or ask for all of them")
        task = await self.db.write(
            lambda conn: self._create_scan(conn, seen, selectors, everything, scan_scope, rate_limit, task_type)
        )
        self.jobs.send(task.job_id)
        return task

    def _create_scan(
        self,
        conn: Connection,
        seen: ImageVisibility,
        selectors: Sequence[ImageSelector],
        everything: ImageFilter | None,
        scan_scope: int,
        rate_limit: int,
        task_type: str,
    ) -> SecurityTask:
        if everything is not None:
            ids = images_q.matching_ids(conn, seen, everything, limit=MAX_TASK_IMAGES)
            rows = images_q.by_ids(conn, seen, ids)
        else:
            rows = self._resolve(conn, seen, selectors)
        return self.create_scan_in(
            conn,
            domain_id=seen.domain_id,
            rows=rows,
            scan_scope=scan_scope,
            rate_limit=rate_limit,
            task_type=task_type,
            is_all=everything is not None,
        )

    def create_scan_in(
        self,
        conn: Connection,
        *,
        domain_id: str,
        rows: Sequence[ImageRow],
        scan_scope: int,
        rate_limit: int,
        task_type: str,
        is_all: bool,
        policy_id: str = "",
    ) -> SecurityTask:
        """Create a scan task and its job in a transaction (the caller sends the job once committed;
        the scheduler uses this too)."""
        task_id = secrets.token_hex(16)
        items = [
            NewItem(row.label, image_row_id=row.id, registry_id=row.registry_id, manifest_digest=row.image_digest)
            for row in rows
        ]
        q.create(
            conn,
            task_id=task_id,
            domain_id=domain_id,
            type="image_scan",
            task_type=task_type,
            name=_task_name(f"{task_type}-scan"),
            scan_scope=scan_scope,
            rate_limit=rate_limit,
            is_all=is_all,
            policy_id=policy_id,
            new_items=items,
        )
        images_q.set_status(
            conn, [row.id for row in rows if row.scan_status != ScanStatus.SCANNING], ScanStatus.WAITING
        )
        return self._queue(conn, task_id, JobKind.SCAN_TASK, domain_id)

    def _queue(self, conn: Connection, task_id: str, kind: JobKind, domain_id: str) -> SecurityTask:
        from moorage.metadata.queries import jobs as jobs_q

        job_id = secrets.token_hex(16)
        jobs_q.create(
            conn,
            job_id=job_id,
            kind=kind,
            params={"task_id": task_id},
            max_attempts=3,
            dedupe_key=f"task:{task_id}",
            domain_id=domain_id,
        )
        q.set_job(conn, task_id, job_id)
        task = q.get(conn, task_id)
        assert task is not None
        return task

    async def create_sync_task(
        self, principal: Principal, *, registry_ids: Sequence[str], every: bool, task_type: str = "manualSync"
    ) -> SecurityTask:
        """A task synchronising the registries named (or every registry of the account)."""
        domain_id = account_of(principal)

        def work(conn: Connection) -> SecurityTask:
            if every:
                registries = registries_q.of_domain(conn, domain_id)
            else:
                registries = []
                for registry_id in dict.fromkeys(registry_ids):
                    found = registries_q.get(conn, domain_id, registry_id)
                    if found is None:
                        raise NotFound(f"no registry {registry_id[:64]!r}", reason="registry_not_found")
                    registries.append(found)
            if not registries:
                raise Invalid("no registry to synchronize")
            task_id = secrets.token_hex(16)
            q.create(
                conn,
                task_id=task_id,
                domain_id=domain_id,
                type="image_sync",
                task_type=task_type,
                name=_task_name("sync"),
                scan_scope=0,
                rate_limit=0,
                is_all=every,
                policy_id="",
                new_items=[NewItem(r.name, registry_id=r.id) for r in registries],
            )
            return self._queue(conn, task_id, JobKind.SYNC_TASK, domain_id)

        task = await self.db.write(work)
        self.jobs.send(task.job_id)
        return task

    async def page(
        self, principal: Principal, query: TaskQuery, *, offset: int, limit: int
    ) -> tuple[list[tuple[SecurityTask, list[TaskItem]]], int]:
        """One page of the account's tasks, each with its failed items (a user who is not a domain
        administrator sees the failed images they see)."""
        seen = image_visibility(principal)

        def work(conn: Connection) -> tuple[list[tuple[SecurityTask, list[TaskItem]]], int]:
            tasks, total = q.page(conn, seen.domain_id, query, offset=offset, limit=limit)
            failed = {t.id: q.task_items(conn, t.id, statuses=(TaskItemStatus.FAILED,)) for t in tasks}
            if not seen.everything:
                named = {i.image_row_id for items in failed.values() for i in items if i.image_row_id is not None}
                shown = {row.id for row in images_q.by_ids(conn, seen, sorted(named))}
                failed = {
                    t.id: [i for i in failed[t.id] if t.type != "image_scan" or i.image_row_id in shown] for t in tasks
                }
            return [(t, failed[t.id]) for t in tasks], total

        return await self.db.read(work)

    async def items(self, principal: Principal, task_id: str) -> tuple[SecurityTask, list[TaskItem]]:
        """A task of the account and all its items."""
        domain_id = account_of(principal)

        def work(conn: Connection) -> tuple[SecurityTask, list[TaskItem]]:
            task = q.get(conn, task_id, domain_id)
            if task is None:
                raise NotFound(f"no task {task_id[:64]!r}", reason="task_not_found")
            return task, q.task_items(conn, task_id)

        return await self.db.read(work)

    async def stop(self, principal: Principal, task_id: str) -> SecurityTask:
        """Stop a task: a waiting one at once, a running one at its next check."""
        task, _items = await self.items(principal, task_id)
        if task.status.ended:
            return task
        job = await self.jobs.stop(task.job_id)
        if job.status == JobStatus.STOPPED:

            def work(conn: Connection) -> None:
                waiting = [
                    i.image_row_id
                    for i in q.task_items(conn, task_id, statuses=OPEN_ITEM_STATUSES)
                    if i.image_row_id is not None
                ]
                q.finish(conn, task_id, status=TaskStatus.STOPPED)
                restore_rows(conn, waiting)

            await self.db.write(work)
        found, _ = await self.items(principal, task_id)
        return found

    async def scan_policy(self, principal: Principal) -> ScanPolicy:
        """The account's scheduled-scan policy."""
        domain_id = account_of(principal)
        return await self.db.read(lambda conn: q.scan_policy(conn, domain_id))

    async def set_scan_policy(
        self,
        principal: Principal,
        *,
        enabled: bool,
        scan_cycle: int,
        scan_scope: int,
        rate_limit: int,
        time_scope: int,
        registry_ids: Sequence[str],
    ) -> ScanPolicy:
        """Replace the account's scheduled-scan policy."""
        domain_id = account_of(principal)
        if scan_cycle not in VALID_CYCLES:
            raise Invalid(f"scan_cycle must be one of {', '.join(map(str, VALID_CYCLES))} (days)")
        if time_scope not in VALID_TIME_SCOPES:
            raise Invalid(f"time_scope must be one of {', '.join(map(str, VALID_TIME_SCOPES))} (days; 0: all images)")
        if not 0 <= rate_limit <= 1000:
            raise Invalid("rate_limit must be from 0 to 1000 images per hour")

        def work(conn: Connection) -> ScanPolicy:
            for registry_id in registry_ids:
                if registries_q.get(conn, domain_id, registry_id) is None:
                    raise NotFound(f"no registry {registry_id[:64]!r}", reason="registry_not_found")
            old = q.scan_policy(conn, domain_id)
            q.set_scan_policy(
                conn,
                ScanPolicy(
                    domain_id,
                    enabled,
                    scan_cycle,
                    scan_scope,
                    rate_limit,
                    time_scope,
                    tuple(dict.fromkeys(registry_ids)),
                    old.last_run_at or now_ms(),
                ),
            )
            return q.scan_policy(conn, domain_id)

        return await self.db.write(work)
