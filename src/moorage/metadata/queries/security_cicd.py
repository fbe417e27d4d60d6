"""HSS CI/CD configurations and the images pipelines uploaded under them (``cicd_tables.py``).

An image's scan columns (status, counts, level, scan time) are read from its result row
(``security_scan_results`` under ``result_key``) at query time, so a re-match against a newer
advisory database shows at once."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, select, update
from sqlalchemy.engine import Connection

from moorage.domain.security import ImageRow, ScanResultStatus, ScanStatus
from moorage.domain.security_cicd import CicdConfiguration, CicdGate, CicdImage, CicdImageFilter
from moorage.domain.severity import Severity
from moorage.metadata.database import now_ms
from moorage.metadata.tables import security_cicd_configurations as cfg
from moorage.metadata.tables import security_cicd_images as img
from moorage.metadata.tables import security_scan_results as res
from moorage.metadata.upsert import upsert


def _list(text: str) -> tuple[str, ...]:
    try:
        loaded = json.loads(text or "[]")
    except ValueError:
        return ()
    return tuple(str(x) for x in loaded) if isinstance(loaded, list) else ()


def _severities(text: str) -> tuple[Severity, ...]:
    return tuple(Severity(s) for s in text.split(",") if s in Severity.__members__.values())


def gate_columns(gate: CicdGate) -> dict[str, Any]:
    """The columns that store a gate."""
    return {
        "vulnerability_whitelist": json.dumps(list(gate.vulnerability_whitelist)),
        "vulnerability_blocklist": json.dumps(list(gate.vulnerability_blocklist)),
        "image_whitelist": json.dumps(list(gate.image_whitelist)),
        "block_severities": ",".join(s.value for s in gate.block_severities),
        "block_on_secrets": gate.block_on_secrets,
        "block_on_malicious_files": gate.block_on_malicious_files,
    }


_IMAGES_NUM = select(func.count()).select_from(img).where(img.c.cicd_id == cfg.c.id).correlate(cfg).scalar_subquery()


def _configuration(r: Any) -> CicdConfiguration:
    gate = CicdGate(
        vulnerability_whitelist=_list(r.vulnerability_whitelist),
        vulnerability_blocklist=_list(r.vulnerability_blocklist),
        image_whitelist=_list(r.image_whitelist),
        block_severities=_severities(r.block_severities),
        block_on_secrets=bool(r.block_on_secrets),
        block_on_malicious_files=bool(r.block_on_malicious_files),
    )
    return CicdConfiguration(
        str(r.id), str(r.domain_id), str(r.name), gate, int(r.images_num), int(r.created_at), int(r.updated_at)
    )


def _configurations() -> Any:
    return select(*cfg.c, _IMAGES_NUM.label("images_num"))


def insert_configuration(conn: Connection, *, cicd_id: str, domain_id: str, name: str, gate: CicdGate) -> None:
    """A new configuration (the caller checked the name is free)."""
    now = now_ms()
    conn.execute(
        cfg.insert().values(
            id=cicd_id, domain_id=domain_id, name=name, created_at=now, updated_at=now, **gate_columns(gate)
        )
    )


def name_taken(conn: Connection, domain_id: str, name: str) -> bool:
    """Whether the account has a configuration of that name."""
    found = conn.execute(select(cfg.c.id).where(cfg.c.domain_id == domain_id, cfg.c.name == name)).first()
    return found is not None


def count_of_domain(conn: Connection, domain_id: str) -> int:
    """The account's configurations."""
    return int(conn.execute(select(func.count()).select_from(cfg).where(cfg.c.domain_id == domain_id)).scalar_one())


def get_configuration(conn: Connection, domain_id: str, cicd_id: str) -> CicdConfiguration | None:
    """One of the account's configurations."""
    row = conn.execute(_configurations().where(cfg.c.domain_id == domain_id, cfg.c.id == cicd_id)).first()
    return None if row is None else _configuration(row)


def page_configurations(
    conn: Connection, domain_id: str, *, name: str | None, cicd_id: str | None, offset: int, limit: int
) -> tuple[list[CicdConfiguration], int]:
    """One page of the account's configurations, oldest first; the total."""
    where: list[ColumnElement[bool]] = [cfg.c.domain_id == domain_id]
    if name:
        where.append(cfg.c.name.contains(name, autoescape=True))
    if cicd_id:
        where.append(cfg.c.id == cicd_id)
    total = int(conn.execute(select(func.count()).select_from(cfg).where(*where)).scalar_one())
    rows = conn.execute(
        _configurations().where(*where).order_by(cfg.c.created_at, cfg.c.id).offset(offset).limit(limit)
    )
    return [_configuration(r) for r in rows], total


def update_gate(conn: Connection, domain_id: str, cicd_id: str, gate: CicdGate) -> bool:
    """Replace a configuration's gate; False when it does not exist."""
    result = conn.execute(
        update(cfg)
        .where(cfg.c.domain_id == domain_id, cfg.c.id == cicd_id)
        .values(updated_at=now_ms(), **gate_columns(gate))
    )
    return bool(result.rowcount)


def delete_configurations(conn: Connection, domain_id: str, ids: Sequence[str]) -> int:
    """Delete configurations of the account, their images and the images' results; how many."""
    keys = [
        str(r[0])
        for r in conn.execute(
            select(img.c.result_key).distinct().where(img.c.domain_id == domain_id, img.c.cicd_id.in_(list(ids)))
        )
    ]
    conn.execute(delete(img).where(img.c.domain_id == domain_id, img.c.cicd_id.in_(list(ids))))
    deleted = conn.execute(delete(cfg).where(cfg.c.domain_id == domain_id, cfg.c.id.in_(list(ids)))).rowcount
    for start in range(0, len(keys), 500):
        # Findings go with their result row (ON DELETE CASCADE; SQLite enforces it per connection).
        conn.execute(delete(res).where(res.c.manifest_digest.in_(keys[start : start + 500])))
    return int(deleted)


# Uploaded images ------------------------------------------------------------------------------------


def record_image(
    conn: Connection,
    *,
    domain_id: str,
    cicd_id: str,
    namespace: str,
    image_name: str,
    image_version: str,
    manifest_digest: str,
    result_key: str,
    pipeline_type: str,
    image_size: int,
    gate_passed: bool,
    gate_reasons: Sequence[str],
) -> int:
    """Record (or refresh) an uploaded image; it becomes its name's latest version. Its row id."""
    now = now_ms()
    values = {
        "domain_id": domain_id,
        "cicd_id": cicd_id,
        "namespace": namespace,
        "image_name": image_name,
        "image_version": image_version,
        "manifest_digest": manifest_digest,
        "result_key": result_key,
        "pipeline_type": pipeline_type,
        "image_size": image_size,
        "latest_version": True,
        "gate_passed": gate_passed,
        "gate_reasons": json.dumps(list(gate_reasons)),
        "uploaded_at": now,
    }
    key = ["cicd_id", "namespace", "image_name", "image_version", "manifest_digest"]
    upsert(
        conn,
        img,
        values,
        conflict=key,
        update=[
            "result_key",
            "pipeline_type",
            "image_size",
            "latest_version",
            "gate_passed",
            "gate_reasons",
            "uploaded_at",
        ],
    )
    row_id = int(
        conn.execute(
            select(img.c.id).where(
                img.c.cicd_id == cicd_id,
                img.c.namespace == namespace,
                img.c.image_name == image_name,
                img.c.image_version == image_version,
                img.c.manifest_digest == manifest_digest,
            )
        ).scalar_one()
    )
    conn.execute(
        update(img)
        .where(
            img.c.domain_id == domain_id,
            img.c.namespace == namespace,
            img.c.image_name == image_name,
            img.c.id != row_id,
        )
        .values(latest_version=False)
    )
    return row_id


_IMAGE_FROM = img.join(cfg, cfg.c.id == img.c.cicd_id).outerjoin(res, res.c.manifest_digest == img.c.result_key)
_IMAGE_COLUMNS = (
    *img.c,
    cfg.c.name.label("cicd_name"),
    res.c.status.label("result_status"),
    res.c.vul_num,
    res.c.unsafe_setting_num,
    res.c.malicious_file_num,
    res.c.severity_level,
    res.c.scanned_at,
    res.c.advisory_db,
)


def _image(r: Any) -> CicdImage:
    success = r.result_status == ScanResultStatus.SUCCESS.value
    status = ScanStatus.SUCCESS.value if success else ScanStatus.FAILED.value if r.result_status else "unscan"
    return CicdImage(
        id=int(r.id),
        domain_id=str(r.domain_id),
        cicd_id=str(r.cicd_id),
        cicd_name=str(r.cicd_name),
        namespace=str(r.namespace),
        image_name=str(r.image_name),
        image_version=str(r.image_version),
        manifest_digest=str(r.manifest_digest),
        result_key=str(r.result_key),
        pipeline_type=str(r.pipeline_type),
        image_size=int(r.image_size),
        latest_version=bool(r.latest_version),
        scan_status=status,
        latest_scan_time=int(r.scanned_at or 0),
        vul_num=int(r.vul_num or 0) if success else 0,
        unsafe_setting_num=int(r.unsafe_setting_num or 0) if success else 0,
        malicious_file_num=int(r.malicious_file_num or 0) if success else 0,
        severity_level=str(r.severity_level or "") if success else "",
        gate_passed=bool(r.gate_passed),
        gate_reasons=_list(r.gate_reasons),
        advisory_db=str(r.advisory_db or ""),
        uploaded_at=int(r.uploaded_at),
    )


def _image_conditions(domain_id: str, flt: CicdImageFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [img.c.domain_id == domain_id]
    for column, value in (
        (img.c.namespace, flt.namespace),
        (img.c.image_version, flt.image_version),
        (img.c.pipeline_type, flt.pipeline_type),
        (res.c.severity_level, flt.severity_level),
    ):
        if value:
            where.append(column == value)
    if flt.image_name:
        where.append(img.c.image_name.contains(flt.image_name, autoescape=True))
    if flt.cicd_name:
        where.append(cfg.c.name.contains(flt.cicd_name, autoescape=True))
    if flt.image_id is not None:
        where.append(img.c.id == flt.image_id)
    if flt.latest_version:
        where.append(img.c.latest_version.is_(True))
    if flt.scan_status:
        if flt.scan_status == ScanStatus.SUCCESS.value:
            where.append(res.c.status == ScanResultStatus.SUCCESS.value)
        elif flt.scan_status == ScanStatus.FAILED.value:
            where.append(res.c.status == ScanResultStatus.FAILED.value)
        else:
            where.append(res.c.status.is_(None))
    for flag, column in (
        (flt.has_vul, res.c.vul_num),
        (flt.has_malicious_file, res.c.malicious_file_num),
        (flt.has_unsafe_setting, res.c.unsafe_setting_num),
    ):
        if flag is not None:
            where.append(func.coalesce(column, 0) > 0 if flag else func.coalesce(column, 0) == 0)
    if flt.risky is not None:
        risky = and_(res.c.severity_level.is_not(None), res.c.severity_level.notin_(["", "Security"]))
        where.append(risky if flt.risky else ~risky)
    for column, start, end in (
        (res.c.scanned_at, flt.start_scan_time, flt.end_scan_time),
        (img.c.uploaded_at, flt.start_update_time, flt.end_update_time),
    ):
        if start is not None:
            where.append(column >= start)
        if end is not None:
            where.append(column <= end)
    return where


def page_images(
    conn: Connection, domain_id: str, flt: CicdImageFilter, *, descending: bool, offset: int, limit: int
) -> tuple[list[CicdImage], int]:
    """One page of the account's uploaded images by scan time (then id); the total."""
    where = _image_conditions(domain_id, flt)
    total = int(conn.execute(select(func.count()).select_from(_IMAGE_FROM).where(*where)).scalar_one())
    scanned = func.coalesce(res.c.scanned_at, 0)
    order = (scanned.desc(), img.c.id.desc()) if descending else (scanned, img.c.id)
    rows = conn.execute(
        select(*_IMAGE_COLUMNS).select_from(_IMAGE_FROM).where(*where).order_by(*order).offset(offset).limit(limit)
    )
    return [_image(r) for r in rows], total


def image_by_id(conn: Connection, domain_id: str, image_id: int) -> CicdImage | None:
    """One of the account's uploaded images."""
    row = conn.execute(
        select(*_IMAGE_COLUMNS).select_from(_IMAGE_FROM).where(img.c.domain_id == domain_id, img.c.id == image_id)
    ).first()
    return None if row is None else _image(row)


def latest_for_digest(conn: Connection, domain_id: str, manifest_digest: str) -> CicdImage | None:
    """The account's most recent upload of a manifest digest (any configuration)."""
    row = conn.execute(
        select(*_IMAGE_COLUMNS)
        .select_from(_IMAGE_FROM)
        .where(img.c.domain_id == domain_id, img.c.manifest_digest == manifest_digest)
        .order_by(img.c.uploaded_at.desc(), img.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else _image(row)


def image_row(conn: Connection, domain_id: str, image_id: int) -> ImageRow | None:
    """An uploaded image as an image row, for the detail operations (``/image/cicd-<n>/...``): its
    digest is the result's key, its id negative so it is never a registry row's (whose handling and
    whitelists name rows by id)."""
    found = image_by_id(conn, domain_id, image_id)
    if found is None:
        return None
    return ImageRow(
        id=-found.id,
        domain_id=found.domain_id,
        registry_id="",
        registry_name=found.cicd_name,
        registry_type="cicd",
        parent_id=None,
        image_type="cicd",
        namespace=found.namespace,
        image_name=found.image_name,
        image_version=found.image_version,
        image_digest=found.result_key,
        image_id="",
        media_type="",
        platform="",
        image_size=found.image_size,
        is_multiple_arch=False,
        latest_version=found.latest_version,
        latest_update_time=found.uploaded_at,
        latest_sync_time=found.uploaded_at,
        scan_status=ScanStatus(found.scan_status),
        scan_failed_code="",
        latest_scan_time=found.latest_scan_time,
        vul_num=found.vul_num,
        unsafe_setting_num=found.unsafe_setting_num,
        malicious_file_num=found.malicious_file_num,
        severity_level=found.severity_level,
        domain_name="",
        shared_status="",
        instance_id="",
        instance_name="",
        instance_url="",
        repository_id=None,
    )
