"""HSS CI/CD configurations (``AddCicdConfiguration`` ... ``ListCicdImages``): an account's gates for
pipeline scans, the command line a pipeline runs (``CreateCicdConfigurationCommand``: ``moorage
scan IMAGE --report-to URL --cicd-id ID --cicd-token CREDENTIAL``, the credential scan-upload-only
and short-lived), and the images pipelines uploaded. Uploads themselves are
``services/security/cicd_uploads.py``. Changes need the domain administrator; reads any user of
the account (the results belong to the account, not to a repository)."""

from __future__ import annotations

import secrets
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from moorage.auth.tokens import CicdUploadSigner
from moorage.domain.errors import Conflict, Denied, Invalid, NotFound, QuotaExceeded
from moorage.domain.events import NewEvent, Operation, ResourceType, account_event
from moorage.domain.identity import Principal
from moorage.domain.security_cicd import (
    MAX_ENTRY_CHARS,
    MAX_LIST_ENTRIES,
    PIPELINE_TYPES,
    CicdConfiguration,
    CicdCounts,
    CicdGate,
    CicdImage,
    CicdImageFilter,
)
from moorage.domain.severity import Severity
from moorage.metadata.database import Database
from moorage.metadata.queries import security_cicd as q
from moorage.services.events.recorder import record_events
from moorage.services.security.images import account_of
from moorage.settings import Settings

MAX_NAME_CHARS = 128
MAX_COMMAND_CHARS = 1024
"""The SDK's bound on ``cicd_command``."""
SCAN_TYPES = ("local_image", "remote_image")
"""``scan_type`` values moorage serves; the IaC ones (local_directory, remote_address,
git_repository_address) are refused: moorage scans images."""


@dataclass(frozen=True, slots=True)
class GateChange:
    """A change of a gate: None keeps the field as it is."""

    vulnerability_whitelist: Sequence[str] | None = None
    vulnerability_blocklist: Sequence[str] | None = None
    image_whitelist: Sequence[str] | None = None
    block_severities: Sequence[str] | None = None
    block_on_secrets: bool | None = None
    block_on_malicious_files: bool | None = None


@dataclass(frozen=True, slots=True)
class CommandRequest:
    """What ``CreateCicdConfigurationCommand`` asks for."""

    cicd_id: str
    scan_type: str
    image_name: str
    image_version: str
    namespace: str
    repository_address: str
    login_user_name: str
    is_blocking: bool
    pipeline_type: str


def _entries(field: str, values: Sequence[str] | None) -> tuple[str, ...] | None:
    if values is None:
        return None
    if len(values) > MAX_LIST_ENTRIES:
        raise Invalid(f"{field} takes at most {MAX_LIST_ENTRIES} entries")
    cleaned = []
    for value in values:
        text = value.strip()
        if not text or len(text) > MAX_ENTRY_CHARS or any(ch.isspace() or ord(ch) < 32 for ch in text):
            raise Invalid(f"{field}: each entry is 1 to {MAX_ENTRY_CHARS} characters without spaces")
        cleaned.append(text)
    return tuple(dict.fromkeys(cleaned))


def _severities(values: Sequence[str] | None) -> tuple[Severity, ...] | None:
    if values is None:
        return None
    try:
        parsed = {Severity.parse(v.strip().lower()) for v in values}
    except ValueError as exc:
        raise Invalid(f"block_severities: {exc}") from exc
    return tuple(sorted(parsed, key=lambda s: -s.rank))


def apply_change(gate: CicdGate, change: GateChange) -> CicdGate:
    """``gate`` with ``change`` applied (validated: ``Invalid`` on a bad entry)."""
    allowed = _entries("vulnerability_whitelist", change.vulnerability_whitelist)
    blocked = _entries("vulnerability_blocklist", change.vulnerability_blocklist)
    images = _entries("image_whitelist", change.image_whitelist)
    severities = _severities(change.block_severities)
    return CicdGate(
        vulnerability_whitelist=gate.vulnerability_whitelist if allowed is None else allowed,
        vulnerability_blocklist=gate.vulnerability_blocklist if blocked is None else blocked,
        image_whitelist=gate.image_whitelist if images is None else images,
        block_severities=gate.block_severities if severities is None else severities,
        block_on_secrets=gate.block_on_secrets if change.block_on_secrets is None else change.block_on_secrets,
        block_on_malicious_files=(
            gate.block_on_malicious_files
            if change.block_on_malicious_files is None
            else change.block_on_malicious_files
        ),
    )


def _require_admin(principal: Principal) -> str:
    domain_id = account_of(principal)
    if not principal.is_admin:
        raise Denied("changing CI/CD configurations needs the account's administrator")
    return domain_id


def _argument(field: str, value: str, *, required: bool = False) -> str:
    text = value.strip()
    if required and not text:
        raise Invalid(f"{field} is required")
    if len(text) > MAX_NAME_CHARS or any(ch.isspace() or ord(ch) < 32 for ch in text):
        raise Invalid(f"{field} is at most {MAX_NAME_CHARS} characters without spaces")
    return text


class CicdService:
    """See the module docstring."""

    def __init__(self, db: Database, settings: Settings, signer: CicdUploadSigner) -> None:
        self.db = db
        self.settings = settings
        self.signer = signer

    async def add(self, principal: Principal, *, name: str, change: GateChange) -> str:
        """A new configuration; its id."""
        domain_id = _require_admin(principal)
        name = name.strip()
        if not name or len(name) > MAX_NAME_CHARS or any(ord(ch) < 32 for ch in name):
            raise Invalid(f"cicd_name is 1 to {MAX_NAME_CHARS} characters")
        gate = apply_change(CicdGate(), change)
        cicd_id = secrets.token_hex(16)
        limit = self.settings.scanner.cicd_max_configurations

        def work(conn: Connection) -> None:
            if q.name_taken(conn, domain_id, name):
                raise Conflict(f"a CI/CD configuration named {name!r} exists", reason="cicd_name_exists")
            if q.count_of_domain(conn, domain_id) >= limit:
                raise QuotaExceeded(f"an account has at most {limit} CI/CD configurations")
            q.insert_configuration(conn, cicd_id=cicd_id, domain_id=domain_id, name=name, gate=gate)
            record_events(conn, _event(Operation.CREATE, cicd_id, domain_id, {"name": name}))

        await self.db.write(work)
        return cicd_id

    async def page(
        self, principal: Principal, *, name: str | None, cicd_id: str | None, offset: int, limit: int
    ) -> tuple[list[CicdConfiguration], int]:
        """One page of the account's configurations and the total."""
        domain_id = account_of(principal)
        return await self.db.read(
            lambda conn: q.page_configurations(conn, domain_id, name=name, cicd_id=cicd_id, offset=offset, limit=limit)
        )

    async def show(self, principal: Principal, cicd_id: str) -> CicdConfiguration:
        """One configuration of the account."""
        domain_id = account_of(principal)
        found = await self.db.read(lambda conn: q.get_configuration(conn, domain_id, cicd_id))
        if found is None:
            raise NotFound(f"CI/CD configuration {cicd_id[:64]!r} not found", reason="cicd_not_found")
        return found

    async def modify(self, principal: Principal, cicd_id: str, change: GateChange) -> None:
        """Change a configuration's gate (fields left out stay)."""
        domain_id = _require_admin(principal)

        def work(conn: Connection) -> None:
            found = q.get_configuration(conn, domain_id, cicd_id)
            if found is None:
                raise NotFound(f"CI/CD configuration {cicd_id[:64]!r} not found", reason="cicd_not_found")
            q.update_gate(conn, domain_id, cicd_id, apply_change(found.gate, change))
            record_events(conn, _event(Operation.UPDATE, cicd_id, domain_id, {"name": found.name}))

        await self.db.write(work)

    async def delete(self, principal: Principal, cicd_ids: Sequence[str]) -> int:
        """Delete configurations, their uploaded images and results (ids of other accounts, or
        unknown ones, are left alone); how many were deleted. Their credentials stop working at once."""
        domain_id = _require_admin(principal)
        if not cicd_ids or len(cicd_ids) > MAX_LIST_ENTRIES:
            raise Invalid(f"cicd_id_list names 1 to {MAX_LIST_ENTRIES} configurations")
        ids = list(dict.fromkeys(i.strip() for i in cicd_ids))

        def work(conn: Connection) -> int:
            deleted = q.delete_configurations(conn, domain_id, ids)
            if deleted:
                record_events(
                    conn,
                    _event(Operation.DELETE, ",".join(ids[:10]), domain_id, {"ids": ids[:100], "deleted": deleted}),
                )
            return deleted

        return await self.db.write(work)

    async def command(self, principal: Principal, request: CommandRequest) -> str:
        """The command line a pipeline runs, with a fresh scan-upload credential."""
        domain_id = _require_admin(principal)
        if not principal.project_id:
            raise Invalid("a project-scoped caller is needed (the credential is for the project's account)")
        if request.scan_type not in SCAN_TYPES:
            raise Invalid(f"scan_type must be one of {', '.join(SCAN_TYPES)} (moorage scans images, not IaC)")
        if request.pipeline_type and request.pipeline_type not in PIPELINE_TYPES:
            raise Invalid(f"pipeline_type must be one of {', '.join(PIPELINE_TYPES)}")
        name = _argument("image_name", request.image_name, required=True)
        version = _argument("image_version", request.image_version)
        namespace = _argument("namespace", request.namespace)
        address = _argument("repository_address", request.repository_address)
        user = _argument("login_user_name", request.login_user_name)
        await self.show(principal, request.cicd_id)
        repository = f"{namespace}/{name}" if namespace and "/" not in name else name
        display = f"{repository}:{version}" if version else repository
        if request.scan_type == "remote_image":
            if not address:
                raise Invalid("repository_address is required for remote_image")
            image = f"{address}/{display}"
        else:
            image = display
        token, _claims = self.signer.issue(
            domain_id=domain_id,
            project_id=principal.project_id,
            cicd_id=request.cicd_id,
            ttl=self.settings.scanner.cicd_credential_ttl_seconds,
        )
        words = [
            "moorage",
            "scan",
            image,
            "--report-to",
            self.settings.resolved_external_url,
            "--cicd-id",
            request.cicd_id,
            "--cicd-token",
            token,
            "--cicd-image",
            display,
        ]
        if request.pipeline_type:
            words += ["--pipeline-type", request.pipeline_type]
        if not request.is_blocking:
            words.append("--no-block")
        if request.scan_type == "remote_image" and user:
            # The password is never put in the command: the pipeline passes it in MOORAGE_REGISTRY_PASSWORD.
            words += ["--username", user]
        command = shlex.join(words)
        if len(command) > MAX_COMMAND_CHARS:
            raise Invalid(f"the command would be longer than {MAX_COMMAND_CHARS} characters: shorten the names")
        # Who was given an upload credential, and until when (never the credential itself).
        ttl = self.settings.scanner.cicd_credential_ttl_seconds
        issued = _event(Operation.UPDATE, request.cicd_id, domain_id, {"credential_issued": True, "ttl_seconds": ttl})
        await self.db.write(lambda conn: record_events(conn, issued))
        return command

    async def images(
        self, principal: Principal, flt: CicdImageFilter, *, descending: bool, offset: int, limit: int
    ) -> tuple[list[CicdImage], int]:
        """One page of the account's uploaded images and the total."""
        domain_id = account_of(principal)
        return await self.db.read(
            lambda conn: q.page_images(conn, domain_id, flt, descending=descending, offset=offset, limit=limit)
        )

    async def counts(self, principal: Principal) -> CicdCounts:
        """The account's uploaded images: all, scanned, risky, high-risk and unscanned (the ``cicd``
        figures of ``ShowImageAssetStatistics`` and ``ShowImagePayPerScanStatistics``)."""
        domain_id = account_of(principal)

        def work(conn: Connection) -> CicdCounts:
            def count(**filters: Any) -> int:
                flt = CicdImageFilter(**filters)
                return q.page_images(conn, domain_id, flt, descending=False, offset=0, limit=1)[1]

            return CicdCounts(
                total=count(),
                scanned=count(scan_status="success"),
                risky=count(risky=True),
                high_risk=count(severity_level="High"),
                unscanned=count(scan_status="unscan"),
            )

        return await self.db.read(work)


def _event(operation: Operation, cicd_id: str, domain_id: str, detail: Mapping[str, object]) -> NewEvent:
    """The event of a CI/CD configuration created, changed (or given a credential) or deleted."""
    return account_event(operation, ResourceType.CICD_CONFIGURATION, cicd_id, domain_id=domain_id, detail=detail)
