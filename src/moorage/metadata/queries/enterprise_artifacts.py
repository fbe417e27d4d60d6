"""Artifacts, tags and accessories of Enterprise Edition instances' repositories, as the instance
APIs list them (the repositories themselves: ``enterprise_repositories``).

An *artifact* is a manifest that is neither an accessory (it names a ``subject``, or it carries a
cosign ``sha256-<hex>.sig|.att|.sbom`` tag) nor a child of an index in the same repository;
accessories are listed under the artifact they refer to.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, literal, not_, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import FromClause

from moorage.domain import mediatypes as mt
from moorage.domain.enterprise import Accessory, Artifact, ArtifactTag, Page
from moorage.metadata.tables import manifest_references, manifests, repositories, tags
from moorage.metadata.upsert import bytewise

COSIGN_TAG = re.compile(r"^sha256-([0-9a-f]{64})\.(sig|att|sbom)$")
"""cosign's tag convention for what it attaches to ``sha256:<hex>``."""

HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
COSIGN_SIGNATURE_ARTIFACT = "application/vnd.dev.cosign.artifact.sig.v1+json"
NOTATION_SIGNATURE = "application/vnd.cncf.notary.signature"
SBOM_TYPES = frozenset(
    {
        "application/vnd.goharbor.harbor.sbom.v1",
        "application/spdx+json",
        "application/vnd.cyclonedx+json",
        "application/vnd.syft+json",
    }
)
IMAGE_CONFIGS = (mt.OCI_CONFIG, mt.DOCKER_CONFIG)


def _cosign_tagged(m: FromClause) -> ColumnElement[bool]:
    t = tags.alias("cosign_tag")  # an alias: the outer query may list tags itself
    return exists().where(
        t.c.manifest_id == m.c.id,
        t.c.name.like("sha256-%"),
        or_(t.c.name.like("%.sig"), t.c.name.like("%.att"), t.c.name.like("%.sbom")),
    )


def is_accessory(m: FromClause) -> ColumnElement[bool]:
    """SQL: the manifest row of ``m`` is an accessory of another artifact."""
    return or_(m.c.subject_digest.is_not(None), _cosign_tagged(m))


def is_artifact(m: FromClause) -> ColumnElement[bool]:
    """SQL: the manifest row of ``m`` is listed as an artifact of its own."""
    parent = manifests.alias("parent_manifest")
    child = exists().where(
        manifest_references.c.kind == "manifest",
        manifest_references.c.digest == m.c.digest,
        manifest_references.c.manifest_id == parent.c.id,
        parent.c.repository_id == m.c.repository_id,
    )
    return and_(not_(is_accessory(m)), not_(child))


def _artifact_type(m: FromClause) -> ColumnElement[str]:
    return case(
        (m.c.media_type.in_(sorted(mt.INDEXES)), literal("IMAGE")),
        (m.c.artifact_type.in_(IMAGE_CONFIGS), literal("IMAGE")),
        (m.c.artifact_type == HELM_CONFIG, literal("CHART")),
        else_=literal("UNKNOWN"),
    )


# Artifacts -----------------------------------------------------------------------------------------
_ARTIFACT = (
    manifests.c.id,
    manifests.c.digest,
    manifests.c.repository_id,
    repositories.c.full_name,
    repositories.c.namespace_id,
    manifests.c.artifact_type,
    manifests.c.media_type,
    _artifact_type(manifests),
    manifests.c.total_size,
    manifests.c.created_at,
    manifests.c.last_pulled_at,
    manifests.c.config_digest,
)
_ARTIFACT_FROM = manifests.join(repositories, repositories.c.id == manifests.c.repository_id)


def _artifact(r: Sequence[Any], tag_rows: dict[int, list[ArtifactTag]]) -> Artifact:
    media_type = str(r[5]) or str(r[6])
    return Artifact(
        int(r[0]),
        str(r[1]),
        int(r[2]),
        str(r[3]),
        int(r[4]),
        media_type,
        str(r[6]),
        str(r[7]),
        int(r[8]),
        int(r[9]),
        None if r[10] is None else int(r[10]),
        r[11],
        tuple(tag_rows.get(int(r[0]), ())),
    )


def _tags_of(conn: Connection, manifest_ids: list[int]) -> dict[int, list[ArtifactTag]]:
    if not manifest_ids:
        return {}
    rows = conn.execute(
        select(
            tags.c.id,
            tags.c.name,
            tags.c.repository_id,
            tags.c.manifest_id,
            tags.c.updated_at,
            manifests.c.last_pulled_at,
        )
        .select_from(tags.join(manifests, manifests.c.id == tags.c.manifest_id))
        .where(tags.c.manifest_id.in_(manifest_ids))
        .order_by(bytewise(conn, tags.c.name))
    )
    out: dict[int, list[ArtifactTag]] = {}
    for r in rows:
        out.setdefault(int(r[3]), []).append(
            ArtifactTag(int(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4]), None if r[5] is None else int(r[5]))
        )
    return out


def list_artifacts(
    conn: Connection, repository_id: int, *, artifact_type: str | None, tag: str | None, offset: int, limit: int
) -> Page[Artifact]:
    """Artifacts of a repository, newest push first."""
    where: list[ColumnElement[bool]] = [manifests.c.repository_id == repository_id, is_artifact(manifests)]
    if artifact_type:
        where.append(_artifact_type(manifests) == artifact_type.upper())
    if tag:
        where.append(exists().where(tags.c.manifest_id == manifests.c.id, tags.c.name.contains(tag, autoescape=True)))
    total = int(conn.execute(select(func.count()).select_from(manifests).where(*where)).scalar_one())
    rows = list(
        conn.execute(
            select(*_ARTIFACT)
            .select_from(_ARTIFACT_FROM)
            .where(*where)
            .order_by(manifests.c.created_at.desc(), manifests.c.id.desc())
            .offset(offset)
            .limit(limit)
        )
    )
    tag_rows = _tags_of(conn, [int(r[0]) for r in rows])
    return Page([_artifact(r, tag_rows) for r in rows], total)


def list_instance_artifacts(
    conn: Connection, instance_id: str, *, namespace_ids: set[int] | None, after_id: int, limit: int
) -> list[Artifact]:
    """Artifacts of every repository of an instance by id after ``after_id`` (keyset paging)."""
    where: list[ColumnElement[bool]] = [
        repositories.c.instance_id == instance_id,
        manifests.c.id > after_id,
        is_artifact(manifests),
    ]
    if namespace_ids is not None:
        where.append(
            repositories.c.namespace_id.in_(sorted(namespace_ids)) if namespace_ids else manifests.c.id.is_(None)
        )
    rows = list(
        conn.execute(select(*_ARTIFACT).select_from(_ARTIFACT_FROM).where(*where).order_by(manifests.c.id).limit(limit))
    )
    tag_rows = _tags_of(conn, [int(r[0]) for r in rows])
    return [_artifact(r, tag_rows) for r in rows]


def get_artifact(conn: Connection, repository_id: int, reference: str) -> Artifact | None:
    """An artifact (or any manifest) of a repository by digest or tag."""
    query = select(*_ARTIFACT).select_from(_ARTIFACT_FROM).where(manifests.c.repository_id == repository_id)
    if reference.startswith(("sha256:", "sha512:")):
        query = query.where(manifests.c.digest == reference)
    else:
        query = query.where(
            manifests.c.id
            == select(tags.c.manifest_id)
            .where(tags.c.repository_id == repository_id, tags.c.name == reference)
            .scalar_subquery()
        )
    row = conn.execute(query).first()
    if row is None:
        return None
    return _artifact(row, _tags_of(conn, [int(row[0])]))


def list_tags(
    conn: Connection, repository_id: int, *, accessory: bool | None, offset: int, limit: int
) -> Page[tuple[ArtifactTag, Artifact]]:
    """Tags of a repository with the artifact each points at (``accessory``: only / never accessory tags)."""
    where: list[ColumnElement[bool]] = [tags.c.repository_id == repository_id]
    if accessory is not None:
        where.append(is_accessory(manifests) if accessory else not_(is_accessory(manifests)))
    base = tags.join(manifests, manifests.c.id == tags.c.manifest_id)
    total = int(conn.execute(select(func.count()).select_from(base).where(*where)).scalar_one())
    rows = conn.execute(
        select(tags.c.id, tags.c.name, tags.c.updated_at, *_ARTIFACT)
        .select_from(base.join(repositories, repositories.c.id == manifests.c.repository_id))
        .where(*where)
        .order_by(bytewise(conn, tags.c.name))
        .offset(offset)
        .limit(limit)
    )
    out = []
    for r in rows:
        artifact = _artifact(r[3:], {})
        out.append(
            (ArtifactTag(int(r[0]), str(r[1]), repository_id, artifact.id, int(r[2]), artifact.pull_time), artifact)
        )
    return Page(out, total)


def accessory_type(artifact_type: str, tag_names: list[str]) -> str:
    """The accessory kind Harbor and SWR name: from the artifact type, else from cosign's tag suffix."""
    if artifact_type == COSIGN_SIGNATURE_ARTIFACT:
        return "signature.cosign"
    if artifact_type == NOTATION_SIGNATURE:
        return "signature.notation"
    if artifact_type in SBOM_TYPES:
        return "sbom.harbor"
    for name in tag_names:
        found = COSIGN_TAG.fullmatch(name)
        if found:
            return {"sig": "signature.cosign", "att": "attestation.cosign", "sbom": "sbom.harbor"}[found.group(2)]
    return "subject"


def accessories(conn: Connection, repository_id: int, subject: Artifact) -> list[Accessory]:
    """What refers to ``subject`` in its repository: manifests naming it as subject, and manifests
    under cosign's ``sha256-<hex>.*`` tags, oldest first."""
    hex_part = subject.digest.split(":", 1)[1]
    cosign_tags = [f"sha256-{hex_part}.{suffix}" for suffix in ("sig", "att", "sbom")]
    tagged = select(tags.c.manifest_id).where(tags.c.repository_id == repository_id, tags.c.name.in_(cosign_tags))
    rows = list(
        conn.execute(
            select(
                manifests.c.id,
                manifests.c.total_size,
                manifests.c.digest,
                manifests.c.artifact_type,
                manifests.c.created_at,
            )
            .where(
                manifests.c.repository_id == repository_id,
                manifests.c.id != subject.id,
                or_(manifests.c.subject_digest == subject.digest, manifests.c.id.in_(tagged.scalar_subquery())),
            )
            .order_by(manifests.c.created_at, manifests.c.id)
        )
    )
    names = _tags_of(conn, [int(r[0]) for r in rows])
    return [
        Accessory(
            int(r[0]),
            int(r[0]),
            subject.id,
            int(r[1]),
            str(r[2]),
            accessory_type(str(r[3]), [t.name for t in names.get(int(r[0]), [])]),
            int(r[4]),
        )
        for r in rows
    ]


def referrer_ids(conn: Connection, repository_id: int, digest: str) -> list[int]:
    """Manifests of the repository that refer to ``digest`` (subject or cosign tag), to delete with it."""
    hex_part = digest.split(":", 1)[1]
    cosign_tags = [f"sha256-{hex_part}.{suffix}" for suffix in ("sig", "att", "sbom")]
    tagged = select(tags.c.manifest_id).where(tags.c.repository_id == repository_id, tags.c.name.in_(cosign_tags))
    rows = conn.execute(
        select(manifests.c.id).where(
            manifests.c.repository_id == repository_id,
            or_(manifests.c.subject_digest == digest, manifests.c.id.in_(tagged.scalar_subquery())),
        )
    )
    return [int(r[0]) for r in rows]


def digest_of_manifest(conn: Connection, manifest_id: int) -> str | None:
    """The digest of a manifest row."""
    found = conn.execute(select(manifests.c.digest).where(manifests.c.id == manifest_id)).scalar()
    return None if found is None else str(found)


def tagged_digests(conn: Connection, repository_id: int) -> list[tuple[str, str]]:
    """(tag, digest) of every tag of a repository that points at an artifact (not at an accessory)."""
    rows = conn.execute(
        select(tags.c.name, manifests.c.digest)
        .select_from(tags.join(manifests, manifests.c.id == tags.c.manifest_id))
        .where(tags.c.repository_id == repository_id, not_(is_accessory(manifests)))
        .order_by(bytewise(conn, tags.c.name))
    )
    return [(str(r[0]), str(r[1])) for r in rows]


def untagged_digests(conn: Connection, repository_id: int) -> list[str]:
    """Digests of the repository's artifacts that no tag points at."""
    rows = conn.execute(
        select(manifests.c.digest)
        .where(
            manifests.c.repository_id == repository_id,
            is_artifact(manifests),
            not_(exists().where(tags.c.manifest_id == manifests.c.id)),
        )
        .order_by(manifests.c.id)
    )
    return [str(r[0]) for r in rows]


def _signed(conn: Connection, repository_id: int, digest: str) -> bool:
    """Whether a signature of ``digest`` is in the repository (cosign tag, or a signature referrer)."""
    algorithm, _, hex_part = digest.partition(":")
    if (
        algorithm == "sha256"
        and conn.execute(
            select(tags.c.id).where(tags.c.repository_id == repository_id, tags.c.name == f"sha256-{hex_part}.sig")
        ).first()
    ):
        return True
    return (
        conn.execute(
            select(manifests.c.id)
            .where(
                manifests.c.repository_id == repository_id,
                manifests.c.subject_digest == digest,
                manifests.c.artifact_type.in_([COSIGN_SIGNATURE_ARTIFACT, NOTATION_SIGNATURE]),
            )
            .limit(1)
        ).first()
        is not None
    )


def pull_without_signature_ok(
    conn: Connection, repository_id: int, manifest_id: int, digest: str, subject_digest: str | None
) -> bool:
    """Whether a namespace that demands signatures may serve this manifest: it is signed, it is an
    accessory (a signature must be readable to be checked), or it is a child of a signed index."""
    if subject_digest is not None or _signed(conn, repository_id, digest):
        return True
    if (
        conn.execute(
            select(tags.c.id).where(tags.c.manifest_id == manifest_id, tags.c.name.like("sha256-%")).limit(50)
        ).first()
        is not None
    ):
        names = [str(r[0]) for r in conn.execute(select(tags.c.name).where(tags.c.manifest_id == manifest_id))]
        if any(COSIGN_TAG.fullmatch(name) for name in names):
            return True
    parents = conn.execute(
        select(manifests.c.digest)
        .select_from(manifest_references.join(manifests, manifests.c.id == manifest_references.c.manifest_id))
        .where(
            manifest_references.c.kind == "manifest",
            manifest_references.c.digest == digest,
            manifests.c.repository_id == repository_id,
        )
        .limit(100)
    )
    return any(_signed(conn, repository_id, str(r[0])) for r in parents)
