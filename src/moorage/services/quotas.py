"""Storage and repository-count quotas of organizations (namespaces) and accounts, enforced on pushes.

What counts (the rule SWR applies to its namespaces, and Harbor to its projects):

- An organization's storage is the bytes of the distinct blobs its repositories link: a layer in
  ten repositories of one organization counts once; in two organizations, once in each. An
  account's storage is the sum of its organizations'. Manifests (at most 4 MiB each, held in the
  database) are not counted. The figures are counters kept in step with the blob links in the same
  transactions (``queries/namespace_usage.py``).
- Bytes of uploads in progress count too, as reservations: a request may receive a blob's bytes only
  after reserving them, and a reservation is granted only if the organization's (and account's)
  stored bytes plus every other reservation plus it stay within the quota. A chunk with a declared
  length reserves it whole before the first byte is read; a stream without one reserves as it goes,
  about as much again as it has received (``stream_reservation``). A refused chunk is not kept (the session keeps
  its previous size), and the answer is OCI ``DENIED``. Once the blob is linked (or the upload
  ends) the reservation goes; a blob the organization already links adds nothing.
- Concurrency bound: decisions on one organization and one account are serialised (SQLite's single
  writer; PostgreSQL advisory locks), and usage and reservations are read in one statement, so
  concurrent pushes together never pass a storage quota: the overshoot bound is 0 bytes. The cost
  is the other way: room reserved but not used (a blob the organization turns out to hold already;
  a stream's room ahead of its bytes) is refused to others until that upload ends, so near a full
  quota a push may be refused that would have fitted a moment later. A repository-count quota is checked, under the
  same locks, in the transaction that would create the repository, so it is never passed either.
- Repositories: a push (blob or manifest) or ``CreateRepo`` that would create one more repository
  than the organization's or account's quota is refused (SWR ``SVCSTG.SWR.4000098``, OCI ``DENIED``).
  A session is refused at its start already when its repository would be one too many, or its
  organization is full.

Quotas apply per registry instance (the shared edition and each Enterprise Edition instance) and
are charged to the organization's owner (the pusher's account for an organization the push creates).
With every limit at 0 (the default) nothing is checked and the push path does no extra work.

A refusal is an event (``quota``, ``create``, ``failure``; webhooks send it as ``QUOTA_EXCEED``),
noted in the event buffer since the refused change rolls back, and recorded once per repository and
reason per ``refusal_repeat_seconds``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from types import MappingProxyType

from sqlalchemy.engine import Connection

from moorage.domain.errors import QuotaExceeded
from moorage.domain.events import NewEvent, Operation, ResourceType, Result
from moorage.domain.registry import Repository, UploadTarget
from moorage.metadata.database import Database, now_ms
from moorage.metadata.queries import quotas as q
from moorage.metadata.queries import repositories as repo_queries
from moorage.metadata.queries.quotas import Charge, StorageUse
from moorage.services.events.recorder import record_events
from moorage.settings.sections import QuotaSettings

MAX_REMEMBERED_REFUSALS = 10_000
"""Repositories whose last refusal time is kept (all are forgotten past it: a few repeats more)."""

STREAM_RESERVATION_MIN = 64 << 10
STREAM_RESERVATION_MAX = 16 << 20


def stream_reservation(held: int) -> int:
    """What an upload holding ``held`` bytes reserves while a stream without a declared length is
    arriving: as much again as it holds, at least 64 KiB and at most 16 MiB more. So a stream asks
    the database for room about log2(size / 64 KiB) times up to 16 MiB, then once per 16 MiB, and
    never holds more than twice its bytes (or 16 MiB) of room it may not use."""
    return held + max(STREAM_RESERVATION_MIN, min(STREAM_RESERVATION_MAX, held))


@dataclass(frozen=True, slots=True)
class QuotaLimits:
    """The limits (0: none)."""

    namespace_storage: int = 0
    namespace_repositories: int = 0
    account_storage: int = 0
    account_repositories: int = 0
    warning_percent: int = 0
    """A reservation crossing this share of a storage quota is recorded as a warning (0: never)."""

    @classmethod
    def from_settings(cls, settings: QuotaSettings) -> QuotaLimits:
        """The limits the settings configure."""
        return cls(
            namespace_storage=settings.namespace_storage_bytes,
            namespace_repositories=settings.namespace_repositories,
            account_storage=settings.account_storage_bytes,
            account_repositories=settings.account_repositories,
            warning_percent=settings.warning_percent,
        )

    @property
    def storage(self) -> bool:
        """Whether any storage quota applies."""
        return bool(self.namespace_storage or self.account_storage)

    @property
    def repositories(self) -> bool:
        """Whether any repository-count quota applies."""
        return bool(self.namespace_repositories or self.account_repositories)


@dataclass(frozen=True, slots=True)
class AccountQuota:
    """An account quota with what is used of it (``ListQuotas``)."""

    key: str
    limit: int
    used: int
    unit: str


def _bytes(count: int) -> str:
    return f"{count:,} bytes"


class QuotaService:
    """Reservations and checks (see the module docstring). The ``*_in`` methods run in the caller's
    write transaction."""

    def __init__(
        self,
        db: Database,
        limits: QuotaLimits,
        *,
        reservation_seconds: float = 24 * 3600,
        note_event: Callable[[NewEvent], None] | None = None,
        refusal_repeat_seconds: float = 60.0,
    ) -> None:
        self.db = db
        self.limits = limits
        self.reservation_seconds = reservation_seconds
        self.note_event = note_event
        """Where a refusal's event goes (the event buffer: the refused change rolls back, so the event
        cannot ride with it); None: refusals are not recorded."""
        self.refusal_repeat_seconds = refusal_repeat_seconds
        """A refusal of the same repository for the same reason within this many seconds is not
        recorded again: a client retrying a refused push would otherwise fill the audit log."""
        self._refusals: dict[tuple[str, str, str], float] = {}
        self._refusals_lock = threading.Lock()

    def _refused(self, target: UploadTarget, error: QuotaExceeded, *, digest: str = "") -> QuotaExceeded:
        """Record ``error`` as a refused push (``QUOTA_EXCEED`` for webhooks), at most once per
        repository and reason per ``refusal_repeat_seconds``; returns it for the caller to raise."""
        if self.note_event is None:
            return error
        key = (target.instance_id, str(target.name), error.reason or "")
        moment = time.monotonic()
        with self._refusals_lock:
            last = self._refusals.get(key)
            if last is not None and moment - last < self.refusal_repeat_seconds:
                return error
            if len(self._refusals) >= MAX_REMEMBERED_REFUSALS:
                self._refusals.clear()
            self._refusals[key] = moment
        self.note_event(
            NewEvent(
                Operation.CREATE,
                ResourceType.QUOTA,
                target.instance_id,
                str(target.name),
                domain_id=target.domain_id,
                namespace=target.name.namespace,
                repository=str(target.name),
                digest=digest,
                result=Result.FAILURE,
                detail=MappingProxyType({"message": error.message, "reason": error.reason or ""}),
            )
        )
        return error

    @property
    def storage_enforced(self) -> bool:
        """Whether uploads must reserve their bytes."""
        return self.limits.storage

    @property
    def repositories_enforced(self) -> bool:
        """Whether creating a repository needs a check."""
        return self.limits.repositories

    # Who pays ---------------------------------------------------------------------------------------
    @staticmethod
    def charge_in(conn: Connection, target: UploadTarget) -> Charge:
        """The organization and account a push into ``target`` is charged to."""
        _exists, owner = q.namespace_owner(conn, target.instance_id, target.name.namespace)
        return Charge(target.instance_id, target.name.namespace, owner or target.domain_id or "")

    def _lock(self, conn: Connection, charge: Charge) -> None:
        keys = [f"quota:{charge.instance_id}:account:{charge.domain_id}"] if charge.domain_id else []
        q.lock(conn, *keys, f"quota:{charge.instance_id}:namespace:{charge.namespace}")

    # Storage ----------------------------------------------------------------------------------------
    def _room(self, conn: Connection, charge: Charge, other_than: str) -> tuple[int, str]:
        """The bytes that may still be reserved, and what limits them (for the refusal)."""
        return self._room_and_use(conn, charge, other_than)[:2]

    def _room_and_use(self, conn: Connection, charge: Charge, other_than: str) -> tuple[int, str, StorageUse]:
        """``_room``, and the usage it was computed from."""
        use = q.use(
            conn,
            charge,
            namespace=bool(self.limits.namespace_storage),
            account=bool(self.limits.account_storage),
            other_than=other_than,
        )
        room, why = None, ""
        if self.limits.namespace_storage:
            room = self.limits.namespace_storage - use.namespace_stored - use.namespace_reserved
            why = (
                f"organization {charge.namespace!r} has a storage quota of {_bytes(self.limits.namespace_storage)}:"
                f" {_bytes(use.namespace_stored)} stored, {_bytes(use.namespace_reserved)} being uploaded"
            )
        if self.limits.account_storage and charge.domain_id:
            account_room = self.limits.account_storage - use.account_stored - use.account_reserved
            if room is None or account_room < room:
                room = account_room
                why = (
                    f"the account owning {charge.namespace!r} has a storage quota of "
                    f"{_bytes(self.limits.account_storage)}: {_bytes(use.account_stored)} stored, "
                    f"{_bytes(use.account_reserved)} being uploaded"
                )
        return (max(room, 0), why, use) if room is not None else (1 << 62, "", use)

    def _warn_on_crossing(
        self, conn: Connection, target: UploadTarget, charge: Charge, use: StorageUse, before: int, after: int
    ) -> None:
        """Record a quota warning for each storage quota whose warning share the organization's or
        account's bytes (stored, other uploads', and this reservation's ``before`` then ``after``) cross."""
        if not self.limits.warning_percent or after <= before:
            return
        crossed = []
        for scope, limit, base in (
            ("organization", self.limits.namespace_storage, use.namespace_stored + use.namespace_reserved),
            (
                "account",
                self.limits.account_storage if charge.domain_id else 0,
                use.account_stored + use.account_reserved,
            ),
        ):
            threshold = -(-limit * self.limits.warning_percent // 100)  # the first byte count at or past the share
            if limit and base + before < threshold <= base + after:
                crossed.append((scope, limit, base + after))
        for scope, limit, used in crossed:
            message = (
                f"the {scope} of {target.name} uses {_bytes(used)} of its {_bytes(limit)} storage quota "
                f"({self.limits.warning_percent}% or more)"
            )
            record_events(
                conn,
                NewEvent(
                    Operation.UPDATE,
                    ResourceType.QUOTA,
                    target.instance_id,
                    str(target.name),
                    domain_id=target.domain_id,
                    namespace=target.name.namespace,
                    repository=str(target.name),
                    result=Result.SUCCESS,
                    detail=MappingProxyType(
                        {
                            "message": message,
                            "reason": "storage_quota_warning",
                            "scope": scope,
                            "used": used,
                            "limit": limit,
                        }
                    ),
                ),
            )

    def reserve_in(
        self, conn: Connection, *, reservation_id: str, target: UploadTarget, total: int, partial: bool = False
    ) -> int:
        """Let ``reservation_id`` hold ``total`` bytes (at least), or refuse with ``QuotaExceeded``;
        with ``partial`` grant what room there is when it is more than the reservation holds already.
        Returns the bytes now reserved."""
        charge = self.charge_in(conn, target)
        self._lock(conn, charge)
        current = q.reserved(conn, reservation_id)
        expires = now_ms() + int(self.reservation_seconds * 1000)
        if total <= current:
            q.set_reservation(conn, reservation_id, charge, size=current, expires_at=expires)
            return current
        room, why, use = self._room_and_use(conn, charge, reservation_id)
        granted = total if total <= room else (room if partial and room > current else None)
        if granted is None:
            raise self._refused(
                target,
                QuotaExceeded(
                    f"push to {target.name} refused: {_bytes(total - current)} more would not fit; {why}",
                    detail={"namespace": charge.namespace, "asked": total, "room": room},
                    reason="storage_quota",
                ),
            )
        q.set_reservation(conn, reservation_id, charge, size=granted, expires_at=expires)
        self._warn_on_crossing(conn, target, charge, use, current, granted)
        return granted

    async def reserve(self, *, reservation_id: str, target: UploadTarget, total: int, partial: bool = False) -> int:
        """``reserve_in`` in a transaction of its own."""
        return await self.db.write(
            lambda conn: self.reserve_in(
                conn, reservation_id=reservation_id, target=target, total=total, partial=partial
            )
        )

    async def reserving(
        self, reservation_id: str, target: UploadTarget, start: int, granted: int, chunks: AsyncIterable[bytes]
    ) -> AsyncIterator[bytes]:
        """Pass a stream's chunks through while its reservation covers them, reserving more as it
        grows; ``QuotaExceeded`` (the chunk is then void) when no more room can be had."""
        held = start
        async for chunk in chunks:
            held += len(chunk)
            while held > granted:
                granted = await self.reserve(
                    reservation_id=reservation_id, target=target, total=stream_reservation(held), partial=True
                )
                if granted < held:  # some room, but not for this chunk: ask for exactly it, which refuses
                    granted = await self.reserve(reservation_id=reservation_id, target=target, total=held)
            yield chunk

    @staticmethod
    def settle_in(conn: Connection, reservation_id: str, size: int) -> None:
        """Make a reservation hold exactly the bytes its upload holds now (after a chunk, or a refused one)."""
        q.resize(conn, reservation_id, size)

    @staticmethod
    def release_in(conn: Connection, reservation_id: str) -> None:
        """Forget a reservation (its blob is linked, or its upload ended)."""
        q.release(conn, reservation_id)

    async def release(self, reservation_id: str) -> None:
        """``release_in`` in a transaction of its own."""
        await self.db.write(lambda conn: q.release(conn, reservation_id))

    def admit_upload_in(self, conn: Connection, target: UploadTarget) -> None:
        """Refuse an upload session at its start when its repository would be one too many, or its
        organization (or account) has no room left."""
        if self.repositories_enforced and repo_queries.get(conn, target.instance_id, target.name) is None:
            self._check_repository_count(conn, target, self.charge_in(conn, target))
        if self.storage_enforced:
            room, why = self._room(conn, self.charge_in(conn, target), "")
            if room <= 0:
                raise self._refused(
                    target,
                    QuotaExceeded(
                        f"push to {target.name} refused: the storage quota is used up; {why}",
                        detail={"namespace": target.name.namespace, "room": 0},
                        reason="storage_quota",
                    ),
                )

    def check_link_in(self, conn: Connection, target: UploadTarget, digest: str, size: int) -> None:
        """Refuse linking a stored blob (a cross-repository mount) that the organization does not
        hold yet and that would not fit."""
        if not self.storage_enforced or q.linked_in_namespace(conn, target.instance_id, target.name.namespace, digest):
            return
        charge = self.charge_in(conn, target)
        self._lock(conn, charge)
        room, why, use = self._room_and_use(conn, charge, "")
        if size > room:
            raise self._refused(
                target,
                QuotaExceeded(
                    f"mount of {digest} into {target.name} refused: {_bytes(size)} would not fit; {why}",
                    detail={"namespace": charge.namespace, "asked": size, "room": room},
                    reason="storage_quota",
                ),
                digest=digest,
            )
        self._warn_on_crossing(conn, target, charge, use, 0, size)  # a mount adds bytes as a push does

    # Repositories -----------------------------------------------------------------------------------
    def _check_repository_count(self, conn: Connection, target: UploadTarget, charge: Charge) -> None:
        in_namespace, in_account = q.repository_counts(conn, charge)
        limits = self.limits
        if limits.namespace_repositories and in_namespace >= limits.namespace_repositories:
            why = f"organization {charge.namespace!r} already has {in_namespace} of its {limits.namespace_repositories}"
        elif limits.account_repositories and charge.domain_id and in_account >= limits.account_repositories:
            why = (
                f"the account owning {charge.namespace!r} already has {in_account} of its {limits.account_repositories}"
            )
        else:
            return
        raise self._refused(
            target,
            QuotaExceeded(
                f"repository {target.name} cannot be created: {why} repositories",
                detail={"namespace": charge.namespace},
                reason="repository_quota",
            ),
        )

    def admit_repository_in(self, conn: Connection, target: UploadTarget) -> None:
        """Refuse creating the target repository when it is missing and one more would pass a
        repository-count quota (checked under the organization's and account's locks, which the
        caller's transaction holds until it has created it)."""
        if self.repositories_enforced and repo_queries.get(conn, target.instance_id, target.name) is None:
            charge = self.charge_in(conn, target)
            self._lock(conn, charge)
            self._check_repository_count(conn, target, charge)

    def ensure_repository_in(self, conn: Connection, target: UploadTarget) -> Repository:
        """The target repository, created (with its organization) when missing, unless that passes a
        repository-count quota."""
        self.admit_repository_in(conn, target)
        return repo_queries.ensure(conn, target.instance_id, target.name, domain_id=target.domain_id)

    # Reporting --------------------------------------------------------------------------------------
    async def account_quotas(self, *, instance_id: str, domain_id: str) -> list[AccountQuota]:
        """The account's storage and repository quotas that are set, with their use."""

        def work(conn: Connection) -> list[AccountQuota]:
            found = []
            if self.limits.account_repositories:
                _, count = q.repository_counts(conn, Charge(instance_id, "", domain_id))
                found.append(AccountQuota("repository", self.limits.account_repositories, count, ""))
            if self.limits.account_storage:
                found.append(
                    AccountQuota(
                        "storage", self.limits.account_storage, q.account_stored(conn, instance_id, domain_id), "B"
                    )
                )
            return found

        return await self.db.read(work, heavy=True)

    async def purge_expired(self) -> int:
        """Forget expired reservations."""
        return await self.db.write(lambda conn: q.purge_expired(conn, int(time.time() * 1000)))
