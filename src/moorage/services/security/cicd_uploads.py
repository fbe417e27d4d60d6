"""Results uploaded by ``moorage scan --report-to``: a pipeline's scan of an image, checked and
stored for its account, and judged by its configuration's gate.

The upload is data from an untrusted pipeline, so:

- the credential is checked before a byte of the body is read: it must be a CI/CD upload
  credential (its own key and audience), unexpired, for this configuration and project, and the
  configuration must still exist (deleting it revokes every credential it issued);
- the body is read within ``MOORAGE_SCANNER__CICD_UPLOAD_MAX_BYTES`` and parsed with a bound on
  nesting; the report must be a ``moorage scan`` JSON report whose every stored field fits its column;
- the pipeline's vulnerability matches are not believed: its package inventory is matched again
  against the server's advisory database (none installed: no vulnerabilities are stored, and the
  report says the scan was skipped), so the gate and the lists use the server's judgement;
- the result is stored under a key of its own (account, configuration, digest:
  ``security_cicd.result_key``), never as the digest's registry result: an upload cannot change
  what any account's registry scan says, nor be read by another account.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import anyio.to_thread
from sqlalchemy.engine import Connection

from moorage.auth.tokens import CicdUploadClaims, CicdUploadSigner, TokenError
from moorage.domain.bounded_json import loads
from moorage.domain.errors import Denied, Invalid, Unauthenticated
from moorage.domain.security_cicd import PIPELINE_TYPES, UPLOAD_SCHEMA, GateVerdict, evaluate_gate, result_key
from moorage.domain.security_findings import ScanWrite
from moorage.metadata.database import Database
from moorage.metadata.queries import security_cicd as q
from moorage.metadata.queries import security_results as results_q
from moorage.scanner.errors import ScannerError
from moorage.scanner.report import SkippedScanner, report_from_json
from moorage.scanner.scan import VULN_SCANNER, rematch
from moorage.services.security import engine
from moorage.settings import Settings

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._/-]{0,254}$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
_NAMESPACE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")

BodyReader = Callable[[int], Awaitable[bytes]]
"""Reads the request body, refusing (``TooLarge``) past the given number of bytes."""


@dataclass(frozen=True, slots=True)
class UploadOutcome:
    """What the pipeline is told."""

    cicd_id: str
    image_id: str
    manifest_digest: str
    verdict: GateVerdict
    vul_num: int
    severity_level: str
    advisory_db: str


@dataclass(frozen=True, slots=True)
class _Upload:
    namespace: str
    image_name: str
    image_version: str
    manifest_digest: str
    image_size: int
    pipeline_type: str
    report: dict[str, Any]


def _text(doc: dict[str, Any], key: str) -> str:
    value = doc.get(key, "")
    if not isinstance(value, str):
        raise Invalid(f"image.{key} must be a string")
    return value


def parse_upload(body: bytes, *, max_depth: int) -> _Upload:
    """The upload document, shape-checked (``Invalid`` with a reason otherwise)."""
    try:
        doc = loads(body, max_depth=max_depth)
    except ValueError as exc:
        raise Invalid(f"the upload is not JSON within {max_depth} levels: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("schema") != UPLOAD_SCHEMA:
        raise Invalid(f"the upload must be a {UPLOAD_SCHEMA} document")
    image = doc.get("image")
    report = doc.get("report")
    if not isinstance(image, dict) or not isinstance(report, dict):
        raise Invalid("the upload needs an image object and a report object")
    name, version, namespace = _text(image, "name"), _text(image, "version"), _text(image, "namespace")
    digest = _text(image, "digest")
    pipeline = doc.get("pipeline_type", "")
    size = image.get("size", 0)
    if not _NAME.match(name):
        raise Invalid("image.name must be a repository name (lower case, digits, . _ / -; at most 255)")
    if version and not _TAG.match(version):
        raise Invalid("image.version must be a tag (at most 128 characters)")
    if namespace and not _NAMESPACE.match(namespace):
        raise Invalid("image.namespace must be an organization name")
    if not _DIGEST.match(digest):
        raise Invalid("image.digest must be a sha256 manifest digest")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size < 2**53:
        raise Invalid("image.size must be a byte count")
    if not isinstance(pipeline, str) or (pipeline and pipeline not in PIPELINE_TYPES):
        raise Invalid(f"pipeline_type must be one of {', '.join(PIPELINE_TYPES)}")
    return _Upload(namespace, name, version, digest, size, pipeline, report)


_COLUMN_BOUNDS = (
    ("finding_key", 64),
    ("severity", 16),
    ("ecosystem", 16),
    ("fix_state", 16),
    ("category", 16),
    ("layer_digest", 140),
)


def _check_columns(write: ScanWrite) -> None:
    """Refuse a result whose rows would not fit their columns (PostgreSQL would refuse the insert)."""
    for row in (*write.vulnerabilities, *write.findings):
        for field, bound in _COLUMN_BOUNDS:
            value = getattr(row, field, "")
            if isinstance(value, str) and len(value) > bound:
                raise Invalid(f"the report's {field} values are at most {bound} characters")


class CicdUploads:
    """Receives pipelines' results (see the module docstring)."""

    def __init__(self, db: Database, settings: Settings, signer: CicdUploadSigner) -> None:
        self.db = db
        self.settings = settings
        self.signer = signer
        self._working = threading.BoundedSemaphore(settings.scanner.cicd_upload_concurrency)

    def _claims(self, credential: str, *, project_id: str, cicd_id: str) -> CicdUploadClaims:
        try:
            claims = self.signer.verify(credential)
        except TokenError as exc:
            raise Unauthenticated(f"CI/CD upload credential refused: {exc}") from exc
        if claims.cicd_id != cicd_id or claims.project_id != project_id:
            raise Denied("this credential uploads results for another CI/CD configuration")
        return claims

    async def receive(self, *, credential: str, project_id: str, cicd_id: str, read_body: BodyReader) -> UploadOutcome:
        """Check the credential, then read, check, re-match, store and judge the upload."""
        claims = self._claims(credential, project_id=project_id, cicd_id=cicd_id)
        configuration = await self.db.read(lambda conn: q.get_configuration(conn, claims.domain_id, cicd_id))
        if configuration is None:
            raise Unauthenticated("CI/CD upload credential refused: its configuration was deleted")
        body = await read_body(self.settings.scanner.cicd_upload_max_bytes)
        if not body:
            raise Invalid("the upload is empty")
        upload, write = await anyio.to_thread.run_sync(lambda: self._parsed_and_matched(body))
        verdict = evaluate_gate(
            configuration.gate,
            image_name=upload.image_name,
            image_version=upload.image_version,
            vulnerabilities=write.summary.vulnerabilities,
            secrets=write.summary.sensitive,
            malicious_files=len(write.summary.malicious_files),
        )
        key = result_key(claims.domain_id, cicd_id, upload.manifest_digest)

        def store(conn: Connection) -> int:
            if q.get_configuration(conn, claims.domain_id, cicd_id) is None:
                raise Unauthenticated("CI/CD upload credential refused: its configuration was deleted")
            results_q.store_uploaded(conn, key, write)
            return q.record_image(
                conn,
                domain_id=claims.domain_id,
                cicd_id=cicd_id,
                namespace=upload.namespace,
                image_name=upload.image_name,
                image_version=upload.image_version,
                manifest_digest=upload.manifest_digest,
                result_key=key,
                pipeline_type=upload.pipeline_type,
                image_size=upload.image_size,
                gate_passed=verdict.passed,
                gate_reasons=verdict.reasons,
            )

        row_id = await self.db.write(store)
        return UploadOutcome(
            cicd_id=cicd_id,
            image_id=f"cicd-{row_id}",
            manifest_digest=upload.manifest_digest,
            verdict=verdict,
            vul_num=write.summary.vul_count(),
            severity_level=write.severity_level,
            advisory_db=write.advisory_db,
        )

    def _parsed_and_matched(self, body: bytes) -> tuple[_Upload, ScanWrite]:
        """Parse and match an upload in a worker thread, at most ``CICD_UPLOAD_CONCURRENCY`` at a
        time: a 16 MiB report takes about a hundred MiB while it is parsed and matched."""
        with self._working:
            upload = parse_upload(body, max_depth=self.settings.http.max_json_depth)
            return upload, self._matched(upload)

    def _matched(self, upload: _Upload) -> ScanWrite:
        """The stored form of the upload's report, its vulnerabilities the server's own matches."""
        try:
            report = report_from_json(upload.report)
        except (ScannerError, ValueError) as exc:
            raise Invalid(f"the report is not a moorage scan report: {exc}") from exc
        if report.image.manifest_digest and report.image.manifest_digest != upload.manifest_digest:
            raise Invalid("the report is of another manifest than image.digest")
        store = engine.open_advisories(self.settings.vulndb_path)
        try:
            if store is not None:
                report = rematch(report, store)
            else:
                report = replace(
                    report,
                    vulnerabilities=(),
                    database=None,
                    skipped_scanners=(SkippedScanner(VULN_SCANNER, "the registry has no advisory database"),),
                )
        finally:
            if store is not None:
                store.close()
        write = engine.stored_form(report)
        _check_columns(write)
        return write
