"""HSS image rows: what a synchronisation records (upsert by registry and tag, removal of what is
gone, the latest version of each repository) and the two image lists with every filter."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, delete, func, or_, select, update
from sqlalchemy.engine import Connection

from moorage.domain.security import (
    INSTANCE_IMAGE,
    PRIVATE_IMAGE,
    ImageFilter,
    ImageRow,
    ImageVisibility,
    ScanStatus,
)
from moorage.domain.security_images import ImageEntry, row_key_of
from moorage.metadata.database import now_ms
from moorage.metadata.tables import (
    namespace_permissions,
    namespaces,
    repositories,
    repository_permissions,
)
from moorage.metadata.tables import security_images as t
from moorage.metadata.tables import security_registries as reg

SORT_COLUMNS = {
    "latest_scan_time": t.c.latest_scan_time,
    "latest_update_time": t.c.latest_update_time,
    "latest_sync_time": t.c.latest_sync_time,
    "image_size": t.c.image_size,
    "vul_num": t.c.vul_num,
    "image_name": t.c.image_name,
}
"""Sort keys of the lists (ListRegistryImages documents ``latest_scan_time``; the others are moorage's)."""

_COLUMNS = (
    t.c.id,
    t.c.domain_id,
    t.c.registry_id,
    reg.c.name,
    reg.c.type,
    t.c.parent_id,
    t.c.image_type,
    t.c.namespace,
    t.c.image_name,
    t.c.image_version,
    t.c.image_digest,
    t.c.image_id,
    t.c.media_type,
    t.c.platform,
    t.c.image_size,
    t.c.is_multiple_arch,
    t.c.latest_version,
    t.c.latest_update_time,
    t.c.latest_sync_time,
    t.c.scan_status,
    t.c.scan_failed_code,
    t.c.latest_scan_time,
    t.c.vul_num,
    t.c.unsafe_setting_num,
    t.c.malicious_file_num,
    t.c.severity_level,
    t.c.domain_name,
    t.c.shared_status,
    t.c.instance_id,
    t.c.instance_name,
    t.c.instance_url,
    t.c.repository_id,
)
_FROM = t.join(reg, reg.c.id == t.c.registry_id)
OWN_REGISTRY_IMAGE_TYPES = (PRIVATE_IMAGE, INSTANCE_IMAGE)
"""Image types of moorage's own repositories of the account, whose visibility follows the registry's
permissions (images shared by other accounts are pullable by every user of the account)."""


def _row(r: Sequence[Any], children: tuple[ImageRow, ...] = ()) -> ImageRow:
    return ImageRow(
        int(r[0]),
        str(r[1]),
        str(r[2]),
        str(r[3]),
        str(r[4]),
        None if r[5] is None else int(r[5]),
        str(r[6]),
        str(r[7]),
        str(r[8]),
        str(r[9]),
        str(r[10]),
        str(r[11]),
        str(r[12]),
        str(r[13]),
        int(r[14]),
        bool(r[15]),
        bool(r[16]),
        int(r[17]),
        int(r[18]),
        ScanStatus(r[19]),
        str(r[20]),
        int(r[21]),
        int(r[22]),
        int(r[23]),
        int(r[24]),
        str(r[25]),
        str(r[26]),
        str(r[27]),
        str(r[28]),
        str(r[29]),
        str(r[30]),
        None if r[31] is None else int(r[31]),
        children,
    )


def upsert(
    conn: Connection, *, domain_id: str, registry_id: str, image_type: str, entries: Sequence[ImageEntry]
) -> dict[str, int]:
    """Record tags (and their platform images); a tag whose digest changed starts over as unscanned.
    Returns row key -> row id of the tags."""
    now = now_ms()
    ids: dict[str, int] = {}
    existing = (
        {
            str(r[0]): (int(r[1]), str(r[2]))
            for r in conn.execute(
                select(t.c.row_key, t.c.id, t.c.image_digest).where(
                    t.c.registry_id == registry_id,
                    t.c.parent_id.is_(None),
                    t.c.row_key.in_([e.row_key for e in entries]),
                )
            )
        }
        if entries
        else {}
    )
    for entry in entries:
        values = _values(entry, image_type=image_type, now=now)
        found = existing.get(entry.row_key)
        if found is None:
            result = conn.execute(
                t.insert().values(
                    domain_id=domain_id, registry_id=registry_id, row_key=entry.row_key, created_at=now, **values
                )
            )
            row_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        else:
            row_id, old_digest = found
            if old_digest != entry.digest:
                values.update(_fresh_scan_state())
            conn.execute(update(t).where(t.c.id == row_id).values(**values))
        ids[entry.row_key] = row_id
        _upsert_platforms(
            conn,
            domain_id=domain_id,
            registry_id=registry_id,
            image_type=image_type,
            parent_id=row_id,
            entry=entry,
            now=now,
        )
    return ids


def _values(entry: ImageEntry, *, image_type: str, now: int) -> dict[str, Any]:
    return {
        "image_type": image_type,
        "namespace": entry.namespace,
        "image_name": entry.image_name,
        "image_version": entry.image_version,
        "image_digest": entry.digest,
        "image_id": entry.image_id,
        "media_type": entry.media_type,
        "image_size": entry.size,
        "is_multiple_arch": bool(entry.platforms),
        "latest_update_time": entry.updated_at,
        "latest_sync_time": now,
        "domain_name": entry.domain_name,
        "shared_status": entry.shared_status,
        "instance_id": entry.instance_id,
        "instance_name": entry.instance_name,
        "instance_url": entry.instance_url,
        "repository_id": entry.repository_id,
        "updated_at": now,
    }


def _fresh_scan_state() -> dict[str, Any]:
    return {
        "scan_status": ScanStatus.UNSCAN.value,
        "scan_failed_code": "",
        "latest_scan_time": 0,
        "vul_num": 0,
        "unsafe_setting_num": 0,
        "malicious_file_num": 0,
        "severity_level": "",
    }


def _upsert_platforms(
    conn: Connection, *, domain_id: str, registry_id: str, image_type: str, parent_id: int, entry: ImageEntry, now: int
) -> None:
    old = {
        str(r[0]): int(r[1]) for r in conn.execute(select(t.c.image_digest, t.c.id).where(t.c.parent_id == parent_id))
    }
    wanted = {p.digest: p for p in entry.platforms}
    gone = [row_id for digest, row_id in old.items() if digest not in wanted]
    if gone:
        conn.execute(delete(t).where(t.c.id.in_(gone)))
    for digest, platform in wanted.items():
        values = _values(entry, image_type=image_type, now=now)
        values.update(
            image_digest=digest,
            image_id=platform.image_id,
            media_type=platform.media_type,
            image_size=platform.size,
            platform=platform.platform,
            is_multiple_arch=False,
        )
        if digest in old:
            conn.execute(update(t).where(t.c.id == old[digest]).values(**values))
        else:
            conn.execute(
                t.insert().values(
                    domain_id=domain_id,
                    registry_id=registry_id,
                    parent_id=parent_id,
                    row_key=row_key_of(entry.row_key, digest),
                    created_at=now,
                    **values,
                )
            )


def remove_missing(conn: Connection, registry_id: str, kept: Iterable[str]) -> int:
    """Delete the registry's tags whose row keys are not in ``kept`` (with their platform images)."""
    keep = set(kept)
    rows = conn.execute(select(t.c.id, t.c.row_key).where(t.c.registry_id == registry_id, t.c.parent_id.is_(None)))
    gone = [int(r[0]) for r in rows if r[1] not in keep]
    for start in range(0, len(gone), 500):
        chunk = gone[start : start + 500]
        conn.execute(delete(t).where(t.c.parent_id.in_(chunk)))
        conn.execute(delete(t).where(t.c.id.in_(chunk)))
    return len(gone)


def refresh_latest_versions(conn: Connection, registry_id: str, *, repository: tuple[str, str] | None = None) -> None:
    """Mark, in every repository of the registry (or in one: ``(namespace, image_name)``), the most
    recently updated tag as the latest version."""
    scope = [t.c.registry_id == registry_id]
    if repository is not None:
        scope += [t.c.namespace == repository[0], t.c.image_name == repository[1]]
    conn.execute(update(t).where(*scope, t.c.latest_version.is_(True)).values(latest_version=False))
    ranked = (
        select(t.c.id, t.c.namespace, t.c.image_name, t.c.latest_update_time)
        .where(*scope, t.c.parent_id.is_(None))
        .order_by(t.c.namespace, t.c.image_name, t.c.latest_update_time.desc(), t.c.id.desc())
    )
    latest: dict[tuple[str, str], int] = {}
    for row_id, namespace, name, _updated in conn.execute(ranked):
        latest.setdefault((namespace, name), int(row_id))
    ids = list(latest.values())
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        conn.execute(update(t).where(or_(t.c.id.in_(chunk), t.c.parent_id.in_(chunk))).values(latest_version=True))


def count_of_registry(conn: Connection, registry_id: str) -> int:
    """Tags recorded for a registry."""
    return int(
        conn.execute(
            select(func.count()).select_from(t).where(t.c.registry_id == registry_id, t.c.parent_id.is_(None))
        ).scalar_one()
    )


def visible(seen: ImageVisibility, table: Table = t) -> ColumnElement[bool]:
    """The rows of ``table`` (``security_images`` or an alias of it) that ``seen`` lets the caller see:
    the account's, and for a user who is not a domain administrator only the images of repositories
    they may pull (an organization or repository grant, or a public one), besides images shared with
    the account and those of external registries (see ``ImageVisibility``)."""
    own_account = table.c.domain_id == seen.domain_id
    if seen.reader is None:
        return own_account
    granted_namespaces = select(namespace_permissions.c.namespace_id).where(
        namespace_permissions.c.user_id == seen.reader
    )
    granted_repositories = select(repository_permissions.c.repository_id).where(
        repository_permissions.c.user_id == seen.reader
    )
    readable = (
        select(repositories.c.id)
        .select_from(repositories.join(namespaces, namespaces.c.id == repositories.c.namespace_id))
        .where(
            namespaces.c.domain_id == seen.domain_id,
            or_(
                namespaces.c.id.in_(granted_namespaces),
                repositories.c.id.in_(granted_repositories),
                repositories.c.is_public.is_(True),
                namespaces.c.is_public.is_(True),
            ),
        )
    )
    return and_(
        own_account, or_(table.c.image_type.not_in(OWN_REGISTRY_IMAGE_TYPES), table.c.repository_id.in_(readable))
    )


def _conditions(seen: ImageVisibility, flt: ImageFilter) -> list[ColumnElement[bool]]:
    c = t.c
    found: list[ColumnElement[bool]] = [visible(seen), c.parent_id.is_(None)]
    if flt.image_types:
        found.append(c.image_type.in_(flt.image_types))
    if flt.registry_types:
        found.append(reg.c.type.in_(flt.registry_types))
    if flt.image_ids:
        found.append(c.id.in_(flt.image_ids))
    for column, value in (
        (c.namespace, flt.namespace),
        (reg.c.name, flt.registry_name),
        (c.scan_status, flt.scan_status),
        (c.instance_id, flt.instance_id),
        (c.instance_name, flt.instance_name),
        (c.severity_level, flt.severity_level),
    ):
        if value is not None:
            found.append(column == value)
    if flt.image_name is not None:
        found.append(c.image_name.contains(flt.image_name, autoescape=True))
    if flt.image_version is not None:
        found.append(c.image_version.contains(flt.image_version, autoescape=True))
    if flt.latest_version:
        found.append(c.latest_version.is_(True))
    if flt.is_multarch is not None:
        found.append(c.is_multiple_arch.is_(flt.is_multarch))
    if flt.image_size is not None:
        found.append(c.image_size <= flt.image_size)
    for column, low, high in (
        (c.latest_update_time, flt.start_latest_update_time, flt.end_latest_update_time),
        (c.latest_scan_time, flt.start_latest_scan_time, flt.end_latest_scan_time),
        (c.latest_sync_time, flt.start_latest_sync_time, flt.end_latest_sync_time),
    ):
        if low is not None:
            found.append(column >= low)
        if high is not None:
            found.append(column <= high)
    for column, wanted in (
        (c.vul_num, flt.has_vul),
        (c.malicious_file_num, flt.has_malicious_file),
        (c.unsafe_setting_num, flt.has_unsafe_setting),
    ):
        if wanted is not None:
            found.append(column > 0 if wanted else column == 0)
    if flt.risky is not None:
        risk = c.vul_num + c.malicious_file_num + c.unsafe_setting_num
        found.append(risk > 0 if flt.risky else risk == 0)
    return found


def page(
    conn: Connection,
    seen: ImageVisibility,
    flt: ImageFilter,
    *,
    sort_key: str | None,
    descending: bool,
    offset: int,
    limit: int,
) -> tuple[list[ImageRow], int]:
    """One page of the images the caller sees (tags; multi-architecture ones with their platform
    images) and how many match. Without a sort key: most recently updated first."""
    conditions = _conditions(seen, flt)
    total = int(conn.execute(select(func.count()).select_from(_FROM).where(and_(*conditions))).scalar_one())
    if sort_key is None:
        order = [t.c.latest_update_time.desc(), t.c.id.desc()]
    else:
        column = SORT_COLUMNS[sort_key]
        order = [column.desc(), t.c.id.desc()] if descending else [column.asc(), t.c.id.asc()]
    rows = conn.execute(
        select(*_COLUMNS).select_from(_FROM).where(and_(*conditions)).order_by(*order).offset(offset).limit(limit)
    ).all()
    children = _children(conn, [int(r[0]) for r in rows if r[15]])
    return [_row(r, children.get(int(r[0]), ())) for r in rows], total


def _children(conn: Connection, parent_ids: list[int]) -> dict[int, tuple[ImageRow, ...]]:
    if not parent_ids:
        return {}
    found: dict[int, list[ImageRow]] = {}
    rows = conn.execute(
        select(*_COLUMNS).select_from(_FROM).where(t.c.parent_id.in_(parent_ids)).order_by(t.c.platform, t.c.id)
    )
    for r in rows:
        found.setdefault(int(r[5]), []).append(_row(r))
    return {k: tuple(v) for k, v in found.items()}


def by_ids(conn: Connection, seen: ImageVisibility, ids: Sequence[int]) -> list[ImageRow]:
    """Rows the caller sees, by id (tags or platform images), in id order."""
    if not ids:
        return []
    rows = conn.execute(
        select(*_COLUMNS).select_from(_FROM).where(visible(seen), t.c.id.in_(list(ids))).order_by(t.c.id)
    )
    return [_row(r) for r in rows]


def by_id(conn: Connection, row_id: int) -> ImageRow | None:
    """A row by id, whoever owns it (jobs carry ids only)."""
    row = conn.execute(select(*_COLUMNS).select_from(_FROM).where(t.c.id == row_id)).first()
    if row is None:
        return None
    children = _children(conn, [row_id]) if row[15] else {}
    return _row(row, children.get(row_id, ()))


def find_tag(conn: Connection, registry_id: str, namespace: str, image_name: str, tag: str) -> ImageRow | None:
    """The row of one tag of a registry."""
    row_id = conn.execute(
        select(t.c.id).where(t.c.registry_id == registry_id, t.c.row_key == row_key_of(namespace, image_name, tag))
    ).scalar()
    return None if row_id is None else by_id(conn, int(row_id))


def matching_ids(conn: Connection, seen: ImageVisibility, flt: ImageFilter, *, limit: int) -> list[int]:
    """Ids of the tags the caller sees that match (batch scans of "everything that matches")."""
    rows = conn.execute(
        select(t.c.id).select_from(_FROM).where(and_(*_conditions(seen, flt))).order_by(t.c.id).limit(limit)
    )
    return [int(r[0]) for r in rows]


def set_status(conn: Connection, row_ids: Sequence[int], status: ScanStatus, *, failed_code: str = "") -> None:
    """Set the scan status of rows (and of their platform images)."""
    for start in range(0, len(row_ids), 500):
        chunk = list(row_ids[start : start + 500])
        conn.execute(
            update(t)
            .where(or_(t.c.id.in_(chunk), t.c.parent_id.in_(chunk)))
            .values(scan_status=status.value, scan_failed_code=failed_code)
        )


def rows_with_digest(conn: Connection, digest: str) -> list[tuple[int, str, str]]:
    """(row id, account, image type) of every row, of every account, whose content is ``digest``."""
    rows = conn.execute(select(t.c.id, t.c.domain_id, t.c.image_type).where(t.c.image_digest == digest))
    return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]


def apply_scan_state(conn: Connection, row_ids: Sequence[int], values: dict[str, Any]) -> None:
    """Write scan state (status, counts, level, times) into rows."""
    for start in range(0, len(row_ids), 500):
        conn.execute(update(t).where(t.c.id.in_(list(row_ids[start : start + 500]))).values(**values))


def digests_of_domain(
    conn: Connection, domain_id: str, *, updated_since: int = 0, registry_ids: Sequence[str] = ()
) -> list[int]:
    """Ids of an account's tags, optionally only recently updated ones or only of some registries."""
    conditions = [t.c.domain_id == domain_id, t.c.parent_id.is_(None)]
    if updated_since:
        conditions.append(t.c.latest_update_time >= updated_since)
    if registry_ids:
        conditions.append(t.c.registry_id.in_(list(registry_ids)))
    return [int(r[0]) for r in conn.execute(select(t.c.id).where(*conditions).order_by(t.c.id))]
