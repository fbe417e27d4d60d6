"""What an account decided about its images' findings: vulnerabilities handled (ignored) per image
content, the handling history, vulnerability whitelists (every image, images of some types, chosen
images), ignored non-vulnerability findings, sensitive-file path allowlists, and small per-account
settings (custom weak passwords; the handling version pull verdict caches follow).

Whitelist storage keeps part one's vocabulary (``rule_type`` ``all_image`` with an empty or
comma-separated ``image_type``, or ``specific_image`` with row ids); the API maps it to the SDK's
``all_images`` / ``specific_image_types`` / ``specific_images``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.engine import Connection

from moorage.domain.bounded_json import load_document
from moorage.domain.security_handling import HandlingState, HistoryEntry, HistoryQuery, Whitelist
from moorage.metadata.database import now_ms
from moorage.metadata.tables import security_account_settings as settings_t
from moorage.metadata.tables import security_finding_handling as finding_handling
from moorage.metadata.tables import security_handling_history as history
from moorage.metadata.tables import security_path_allowlists as allowlists
from moorage.metadata.tables import security_vulnerability_handling as handling
from moorage.metadata.tables import security_whitelists as whitelists
from moorage.metadata.upsert import upsert

HANDLING_VERSION = "handling_version"
EXTENDED_WEAK_PASSWORDS = "extended_weak_passwords"


def _split_types(text: str) -> tuple[str, ...]:
    return tuple(t for t in (p.strip() for p in text.split(",")) if t)


def _row_ids(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in load_document(text or "[]"))
    except (ValueError, TypeError):
        return ()


def _whitelist(r: Any) -> Whitelist:
    return Whitelist(
        str(r.id),
        str(r.domain_id),
        str(r.vul_type),
        str(r.vul_id),
        str(r.rule_type),
        _split_types(str(r.image_type)),
        _row_ids(str(r.image_row_ids)),
        str(r.description),
        int(r.created_at),
        int(r.updated_at),
    )


def load_state(conn: Connection, domain_id: str, digests: Iterable[str] | None = None) -> HandlingState:
    """The account's handling state (only for ``digests`` when given)."""
    query = select(handling.c.manifest_digest, handling.c.vul_id).where(
        handling.c.domain_id == domain_id, handling.c.handle_status == "ignored"
    )
    ignored: set[tuple[str, str]] = set()
    if digests is None:
        ignored = {(str(d), str(v)) for d, v in conn.execute(query)}
    else:
        wanted = list(dict.fromkeys(digests))
        for start in range(0, len(wanted), 500):
            ignored.update(
                (str(d), str(v))
                for d, v in conn.execute(query.where(handling.c.manifest_digest.in_(wanted[start : start + 500])))
            )
    return HandlingState(ignored, whitelists_of(conn, domain_id))


def ignored_for_row(
    conn: Connection, domain_id: str, digest: str, *, image_type: str, row_ids: Sequence[int]
) -> frozenset[str]:
    """Vulnerability ids an account set aside for one image row (``row_ids``: the row and, for a
    platform image, its multi-architecture image)."""
    return load_state(conn, domain_id, [digest]).ignored_ids(digest, image_type, row_ids)


# Vulnerability handling ---------------------------------------------------------------------------


def set_handling(
    conn: Connection, domain_id: str, pairs: Iterable[tuple[str, str]], *, status: str, remark: str, user_name: str
) -> None:
    """Record ``status`` (``ignored`` / ``unhandled``) for (digest, vulnerability id) pairs."""
    now = now_ms()
    for digest, vul_id in dict.fromkeys(pairs):
        upsert(
            conn,
            handling,
            {
                "domain_id": domain_id,
                "manifest_digest": digest,
                "vul_id": vul_id[:128],
                "handle_status": status,
                "remark": remark,
                "user_name": user_name[:64],
                "updated_at": now,
            },
            conflict=["domain_id", "manifest_digest", "vul_id"],
            update=["handle_status", "remark", "user_name", "updated_at"],
        )


def add_history(conn: Connection, domain_id: str, entries: Sequence[dict[str, Any]]) -> None:
    """Append handling history rows (keys as ``security_handling_history``'s columns)."""
    now = now_ms()
    rows = [{"domain_id": domain_id, "created_at": now, **e} for e in entries]
    for start in range(0, len(rows), 500):
        conn.execute(history.insert(), rows[start : start + 500])


def history_page(
    conn: Connection, domain_id: str, query: HistoryQuery, *, offset: int, limit: int
) -> tuple[list[HistoryEntry], int]:
    """The account's handling history, newest first."""
    c = history.c
    conditions = [c.domain_id == domain_id]
    if query.vul_id is not None:
        conditions.append(c.vul_id == query.vul_id)
    if query.image_row_ids is not None:
        conditions.append(c.image_row_id.in_(list(query.image_row_ids)))
    for column, value in ((c.status, query.status), (c.handle_type, query.handle_type)):
        if value is not None:
            conditions.append(column == value)
    for column, value in (
        (c.user_name, query.user_name),
        (c.app_name, query.app_name),
        (c.app_version, query.app_version),
        (c.remark, query.remark),
    ):
        if value is not None:
            conditions.append(column.contains(value, autoescape=True))
    total = int(conn.execute(select(func.count()).select_from(history).where(*conditions)).scalar_one())
    rows = conn.execute(
        select(history).where(*conditions).order_by(c.created_at.desc(), c.id.desc()).offset(offset).limit(limit)
    )
    return [
        HistoryEntry(
            int(r.id),
            str(r.manifest_digest),
            None if r.image_row_id is None else int(r.image_row_id),
            str(r.vul_id),
            str(r.handle_type),
            str(r.status),
            str(r.remark),
            str(r.user_name),
            str(r.app_name),
            str(r.app_version),
            str(r.app_path),
            int(r.created_at),
        )
        for r in rows
    ], total


# Whitelists -----------------------------------------------------------------------------------------


def whitelists_of(conn: Connection, domain_id: str) -> list[Whitelist]:
    """Every whitelist of an account, oldest first."""
    rows = conn.execute(
        select(whitelists).where(whitelists.c.domain_id == domain_id).order_by(whitelists.c.created_at, whitelists.c.id)
    )
    return [_whitelist(r) for r in rows]


def whitelist(conn: Connection, domain_id: str, whitelist_id: str) -> Whitelist | None:
    """One whitelist of an account."""
    row = conn.execute(
        select(whitelists).where(whitelists.c.domain_id == domain_id, whitelists.c.id == whitelist_id)
    ).first()
    return _whitelist(row) if row else None


def create_whitelist(
    conn: Connection,
    *,
    whitelist_id: str,
    domain_id: str,
    vul_type: str,
    vul_id: str,
    rule_type: str,
    image_types: Sequence[str],
    row_ids: Sequence[int],
    description: str,
) -> None:
    """Add a whitelist."""
    now = now_ms()
    conn.execute(
        whitelists.insert().values(
            id=whitelist_id,
            domain_id=domain_id,
            vul_type=vul_type,
            vul_id=vul_id[:128],
            rule_type=rule_type,
            image_type=",".join(image_types),
            image_row_ids=json.dumps(list(row_ids)),
            description=description,
            created_at=now,
            updated_at=now,
        )
    )


def change_whitelist(
    conn: Connection,
    domain_id: str,
    whitelist_id: str,
    *,
    rule_type: str,
    image_types: Sequence[str],
    row_ids: Sequence[int],
    description: str,
) -> bool:
    """Change a whitelist's scope and description; False when there is none."""
    result = conn.execute(
        update(whitelists)
        .where(whitelists.c.domain_id == domain_id, whitelists.c.id == whitelist_id)
        .values(
            rule_type=rule_type,
            image_type=",".join(image_types),
            image_row_ids=json.dumps(list(row_ids)),
            description=description,
            updated_at=now_ms(),
        )
    )
    return bool(result.rowcount)


def delete_whitelists(conn: Connection, domain_id: str, ids: Sequence[str]) -> list[Whitelist]:
    """Remove whitelists; the ones that existed."""
    found = [w for w in whitelists_of(conn, domain_id) if w.id in set(ids)]
    if found:
        conn.execute(
            delete(whitelists).where(whitelists.c.domain_id == domain_id, whitelists.c.id.in_([w.id for w in found]))
        )
    return found


# Other findings, path allowlists, settings ----------------------------------------------------------


def ignored_findings(conn: Connection, domain_id: str) -> frozenset[str]:
    """Finding ids (sensitive information) the account ignores."""
    return frozenset(
        str(r[0])
        for r in conn.execute(
            select(finding_handling.c.finding_key).where(
                finding_handling.c.domain_id == domain_id, finding_handling.c.handle_status == "ignored"
            )
        )
    )


def set_finding_ignored(conn: Connection, domain_id: str, finding_key: str, *, ignored: bool, user_name: str) -> None:
    """Ignore a finding in every image of the account, or stop ignoring it."""
    if ignored:
        upsert(
            conn,
            finding_handling,
            {
                "domain_id": domain_id,
                "finding_key": finding_key,
                "handle_status": "ignored",
                "user_name": user_name[:64],
                "updated_at": now_ms(),
            },
            conflict=["domain_id", "finding_key"],
            update=["handle_status", "user_name", "updated_at"],
        )
    else:
        conn.execute(
            delete(finding_handling).where(
                finding_handling.c.domain_id == domain_id, finding_handling.c.finding_key == finding_key
            )
        )


def path_allowlist(conn: Connection, domain_id: str) -> list[str]:
    """The account's allowlisted file paths, in the order they were given."""
    rows = conn.execute(
        select(allowlists.c.file_path).where(allowlists.c.domain_id == domain_id).order_by(allowlists.c.id)
    )
    return [str(r[0]) for r in rows]


def replace_path_allowlist(conn: Connection, domain_id: str, paths: Sequence[str]) -> None:
    """Make ``paths`` the account's allowlisted file paths."""
    conn.execute(delete(allowlists).where(allowlists.c.domain_id == domain_id))
    now = now_ms()
    rows = [{"domain_id": domain_id, "file_path": p, "created_at": now} for p in paths]
    if rows:
        conn.execute(allowlists.insert(), rows)


def setting(conn: Connection, domain_id: str, key: str) -> str | None:
    """A per-account setting."""
    value = conn.execute(
        select(settings_t.c.value).where(settings_t.c.domain_id == domain_id, settings_t.c.key == key)
    ).scalar()
    return None if value is None else str(value)


def set_setting(conn: Connection, domain_id: str, key: str, value: str) -> None:
    """Write a per-account setting."""
    upsert(
        conn,
        settings_t,
        {"domain_id": domain_id, "key": key, "value": value, "updated_at": now_ms()},
        conflict=["domain_id", "key"],
        update=["value", "updated_at"],
    )


def bump_handling_version(conn: Connection, domain_id: str) -> int:
    """Count one more change of the account's handling or whitelists (pull verdicts follow it)."""
    current = handling_version(conn, domain_id) + 1
    set_setting(conn, domain_id, HANDLING_VERSION, str(current))
    return current


def handling_version(conn: Connection, domain_id: str) -> int:
    """How many times the account's handling or whitelists changed (0: never)."""
    value = setting(conn, domain_id, HANDLING_VERSION)
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


def handled_digests(conn: Connection, domain_id: str, vul_ids: Sequence[str]) -> list[str]:
    """Digests that have handling rows for any of ``vul_ids`` (for recounting)."""
    if not vul_ids:
        return []
    rows = conn.execute(
        select(handling.c.manifest_digest)
        .where(handling.c.domain_id == domain_id, or_(*[handling.c.vul_id == v for v in vul_ids]))
        .distinct()
    )
    return [str(r[0]) for r in rows]
